// Thermal cameras: the latest frame, polled with the bearer token (an <img src> cannot send headers),
// with the plume mask or Grad-CAM drawn over it, and the leak score. Below the frame: the camera's FAULT
// (blocked, moved, frozen, blank), its commissioning (admins start it, with a reason, and watch its
// progress) and its evidence clips, each with its video and snapshot to download.

import { api, ApiError } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { store } from "../store.js";
import { downloadBlob, fmtDateTime, fmtTime, h, replaceContent } from "../ui.js";
import { zoneName } from "../words.js";

const FRAME_INTERVAL_MS = 1000;
const LIST_INTERVAL_MS = 5000;

export const camerasView = {
  id: "cameras",
  title: "Cameras",
  mount(root, ctx) {
    const panels = new Map();
    let stopped = false;
    let listTimer = null;

    const loadList = async () => {
      try {
        const cameras = await api("/api/v1/cameras");
        for (const cam of cameras)
          store.cameras.set(cam.id, { ...(store.cameras.get(cam.id) || {}), ...cam, camera: cam.id });
        sync(cameras);
      } catch (err) {
        replaceContent(
          root,
          h("h1", { text: "Cameras" }),
          h("p", {
            class: "message message-error",
            role: "alert",
            testid: "cameras-error",
            text: err.detail || String(err),
          }),
        );
      }
      if (!stopped) listTimer = setTimeout(loadList, LIST_INTERVAL_MS);
    };

    const sync = (cameras) => {
      const ids = cameras.map((c) => c.id).join(",");
      if (root.dataset.cameras !== ids) {
        for (const panel of panels.values()) panel.stop();
        panels.clear();
        root.dataset.cameras = ids;
        const grid = h("div", { class: "camera-grid" });
        for (const cam of cameras) {
          const panel = cameraPanel(cam, ctx);
          panels.set(cam.id, panel);
          grid.append(panel.el);
        }
        replaceContent(
          root,
          h("h1", { text: "Cameras" }),
          cameras.length === 0
            ? h("p", { class: "empty", testid: "cameras-empty", text: "No cameras configured." })
            : grid,
        );
      }
      for (const cam of cameras) panels.get(cam.id)?.setListed(cam);
    };

    replaceContent(root, h("h1", { text: "Cameras" }), h("p", { class: "muted", text: "Loading…" }));
    loadList();
    const off = store.on("camera", (id) => panels.get(id)?.updateScore());
    return () => {
      stopped = true;
      clearTimeout(listTimer);
      off();
      for (const panel of panels.values()) panel.stop();
      delete root.dataset.cameras;
    };
  },
};

function cameraPanel(cam, ctx) {
  const id = cam.id;
  let overlay = "mask";
  let timer = null;
  let url = null;
  let stopped = false;
  const img = h("img", {
    class: "camera-frame",
    alt: `Thermal frame from ${cam.name || id}`,
    testid: `camera-frame-${id}`,
  });
  img.hidden = true;
  const status = h("p", {
    class: "muted",
    role: "status",
    testid: `camera-status-${id}`,
    text: "Waiting for a frame…",
  });
  const note = h("p", { class: "hint", testid: `camera-note-${id}` });
  note.hidden = true;
  const score = h("span", { class: "leak-score", testid: `camera-score-${id}` });
  const meter = h("meter", { min: 0, max: 1, low: 0.3, high: 0.6, optimum: 0, value: 0, "aria-label": "Leak score" });
  const select = h(
    "select",
    { id: `camera-overlay-${id}`, testid: `camera-overlay-${id}` },
    h("option", { value: "none", text: "None" }),
    h("option", { value: "mask", selected: true, text: "Plume mask" }),
    h("option", { value: "gradcam", text: "Grad-CAM" }),
  );
  select.addEventListener("change", () => {
    overlay = select.value;
    fetchFrame();
  });

  // Only the newest request may show its frame and schedule the next poll, so changing the overlay
  // while a frame is on its way never starts a second polling loop.
  let generation = 0;
  const fetchFrame = async () => {
    clearTimeout(timer);
    const mine = ++generation;
    const wanted = overlay;
    try {
      const response = await api(`/api/v1/cameras/${encodeURIComponent(id)}/frame.jpg?overlay=${wanted}`, {
        raw: true,
      });
      const blob = await response.blob();
      if (stopped || mine !== generation) return;
      const next = URL.createObjectURL(blob);
      img.src = next;
      img.hidden = false;
      img.dataset.overlay = wanted;
      if (url) URL.revokeObjectURL(url);
      url = next;
      status.textContent = "";
    } catch (err) {
      if (stopped || mine !== generation) return;
      if (err instanceof ApiError && err.status === 404 && wanted === "gradcam") {
        note.textContent = "Grad-CAM is not available for this camera: no gas classifier runs on its frames.";
        note.hidden = false;
        select.querySelector('option[value="gradcam"]').disabled = true;
        select.value = overlay = "mask";
        fetchFrame();
        return;
      }
      status.textContent =
        err instanceof ApiError && err.status === 503 ? "No frame yet." : `Frame unavailable: ${err.detail || err}`;
    }
    if (!stopped) timer = setTimeout(fetchFrame, FRAME_INTERVAL_MS);
  };

  const updateScore = () => {
    const info = store.cameras.get(id) || {};
    const value = typeof info.leak_score === "number" ? info.leak_score : null;
    meter.value = value ?? 0;
    score.textContent =
      value === null
        ? "Leak score: —"
        : `Leak score: ${value.toFixed(2)}${info.leak ? " — LEAK DETECTED" : ""}${info.ts ? ` (${fmtTime(info.ts)})` : ""}`;
    el.classList.toggle("leak", Boolean(info.leak));
    // The live frames say only the fault's kind (or none); the listing adds its detail and since when.
    const live = info.fault;
    const detailed = listedFault && typeof live === "string" && listedFault.kind === live ? listedFault : null;
    const shown = typeof live === "string" ? detailed || { kind: live } : live || null;
    showFault(fault, shown);
    extras.update({ ...info, fault: shown });
  };
  let listedFault = cam.fault || null;
  const fault = h("p", { class: "message message-error camera-fault", role: "alert", testid: `camera-fault-${id}` });
  fault.hidden = true;
  const extras = cameraExtras(cam, ctx);

  const el = h(
    "article",
    { class: "camera-card", testid: `camera-card-${id}` },
    h("h2", { text: cam.name || id }),
    h("p", { class: "muted small", text: `Zone: ${zoneName(cam.zone)}` }),
    h("div", { class: "camera-view" }, img),
    status,
    h("p", {}, meter, " ", score),
    h("label", { for: `camera-overlay-${id}`, text: "Overlay " }),
    select,
    note,
    fault,
    extras.el,
  );
  fetchFrame();
  updateScore();
  return {
    el,
    updateScore,
    setListed(listed) {
      listedFault = listed.fault || null;
      updateScore();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (url) URL.revokeObjectURL(url);
      extras.stop();
    },
  };
}

const FAULT_LABEL = { blocked: "Blocked", moved: "Moved", frozen: "Frozen", blank: "Blank" };
const COMMISSION_POLL_MS = 1000;
const CLIPS_INTERVAL_MS = 15000;

function showFault(el, fault) {
  if (!fault) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  const kind = FAULT_LABEL[fault.kind] || fault.kind || "Fault";
  const since = fault.since ? ` since ${fmtTime(fault.since)}` : "";
  el.textContent = `Camera FAULT: ${kind}${since}${fault.detail ? ` — ${fault.detail}` : ""}. Its frames are not judged.`;
  el.hidden = false;
}

/** Commissioning (state, progress; "Commission…" for admins) and the evidence clips of one camera. */
function cameraExtras(cam, ctx) {
  const id = cam.id;
  const path = `/api/v1/cameras/${encodeURIComponent(id)}`;
  let stopped = false;
  let pollTimer = null;
  let clipsTimer = null;
  let clipIds = null;

  const commissionText = h("p", { class: "muted small", role: "status", testid: `camera-commission-${id}` });
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Commissioning progress" });
  progress.hidden = true;
  const showCommissioning = (state) => {
    if (!state) return;
    progress.hidden = state.state !== "commissioning";
    if (state.state === "commissioning") {
      const share = typeof state.progress === "number" ? state.progress : 0;
      progress.value = share;
      commissionText.textContent = `Commissioning: learning the scene, ${Math.round(share * 100)} % done. No leak signal from this camera meanwhile; the gas detectors keep protecting.`;
    } else if (state.state === "commissioned") {
      const rec = state.record || {};
      commissionText.textContent = `Commissioned${rec.commissioned_at ? ` ${fmtDateTime(rec.commissioned_at)}` : ""}${rec.by ? ` by ${rec.by}` : ""}${rec.reason ? ` (${rec.reason})` : ""}.`;
    } else {
      commissionText.textContent = "Not commissioned: the model's own threshold is used.";
    }
    commissionText.dataset.state = state.state;
  };
  const poll = async () => {
    clearTimeout(pollTimer);
    try {
      const state = await api(`${path}/commission`);
      if (stopped) return;
      showCommissioning(state);
      if (state.state === "commissioning") pollTimer = setTimeout(poll, COMMISSION_POLL_MS);
    } catch (err) {
      if (!stopped) commissionText.textContent = `Commissioning state unavailable: ${err.detail || err}`;
    }
  };
  const commission = () =>
    confirmWithReason({
      title: `Commission ${cam.name || id}?`,
      body:
        "The camera learns its scene from the next stretch of video, which you confirm is free of gas. " +
        "While it learns it sends no leak signal; the gas detectors keep protecting the zone.",
      confirmLabel: "Commission",
      fields: [{ name: "seconds", label: "Seconds of video to learn (5 to 3600)", type: "number", value: 120, min: 5, max: 3600 }],
      action: async (values) => {
        const state = await api(`${path}/commission`, {
          method: "POST",
          body: { reason: values.reason, seconds: values.seconds },
        });
        showCommissioning(state);
        ctx.announce(`${cam.name || id}: commissioning started.`, "ok");
        pollTimer = setTimeout(poll, COMMISSION_POLL_MS);
      },
    });
  const commissionButton =
    ctx && ctx.can("admin")
      ? h("button", {
          type: "button",
          class: "btn",
          testid: `camera-commission-button-${id}`,
          text: "Commission…",
          onclick: commission,
        })
      : null;

  const clipsBox = h("div", { testid: `camera-clips-${id}` }, h("p", { class: "muted small", text: "Loading clips…" }));
  const clipsError = h("p", { class: "message message-error", role: "alert" });
  clipsError.hidden = true;
  const download = async (url, button, fallback) => {
    button.disabled = true;
    clipsError.hidden = true;
    try {
      const response = await api(url, { raw: true });
      const named = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
      downloadBlob(await response.blob(), named ? named[1] : fallback);
    } catch (err) {
      clipsError.textContent = `Download failed: ${err.detail || err}`;
      clipsError.hidden = false;
    } finally {
      button.disabled = false;
    }
  };
  const loadClips = async () => {
    clearTimeout(clipsTimer);
    try {
      const clips = await api(`${path}/clips`);
      if (stopped) return;
      const ids = clips.map((c) => c.id).join(",");
      if (ids !== clipIds) {
        clipIds = ids;
        replaceContent(clipsBox, clipsList(clips, id, download));
      }
    } catch (err) {
      if (stopped) return;
      clipIds = null;
      replaceContent(clipsBox, h("p", { class: "message message-error", role: "alert", text: `Clips unavailable: ${err.detail || err}` }));
    }
    if (!stopped) clipsTimer = setTimeout(loadClips, CLIPS_INTERVAL_MS);
  };

  const el = h(
    "div",
    { class: "camera-extras" },
    h("h3", { text: "Commissioning" }),
    commissionText,
    progress,
    commissionButton,
    h("h3", { text: "Evidence clips" }),
    clipsBox,
    clipsError,
  );
  showCommissioning(cam.commissioning || null);
  if (cam.commissioning && cam.commissioning.state === "commissioning") poll();
  loadClips();
  return {
    el,
    update(info) {
      if (info.commissioning && !pollTimer) showCommissioning(info.commissioning);
      if (commissionButton) commissionButton.disabled = Boolean(info.fault);
    },
    stop() {
      stopped = true;
      clearTimeout(pollTimer);
      clearTimeout(clipsTimer);
    },
  };
}

function clipsList(clips, cameraId, download) {
  if (clips.length === 0) {
    return h("p", { class: "empty small", testid: `camera-clips-empty-${cameraId}`, text: "No evidence clips kept." });
  }
  return h(
    "ul",
    { class: "clip-list" },
    clips.map((clip) => {
      const video = h("button", { type: "button", class: "btn", testid: `clip-video-${clip.id}`, text: "Video" });
      const snap = h("button", { type: "button", class: "btn", testid: `clip-snapshot-${clip.id}`, text: "Snapshot" });
      video.setAttribute("aria-label", `Download the video of the clip of ${fmtDateTime(clip.triggered_at)}`);
      snap.setAttribute("aria-label", `Download the snapshot of the clip of ${fmtDateTime(clip.triggered_at)}`);
      const suffix = String(clip.video || "").split(".").pop() || "mp4";
      video.addEventListener("click", () =>
        download(clip.video_url, video, `${cameraId}-${clip.id}.${suffix}`),
      );
      snap.addEventListener("click", () => download(clip.snapshot_url, snap, `${cameraId}-${clip.id}.jpg`));
      const facts = [
        typeof clip.duration_s === "number" ? `${clip.duration_s} s` : null,
        typeof clip.max_leak_score === "number" ? `peak score ${clip.max_leak_score.toFixed(2)}` : null,
        (clip.reasons || []).join(", ") || null,
      ].filter(Boolean);
      return h(
        "li",
        { class: "clip-item", testid: "camera-clip", "data-clip": clip.id },
        h(
          "div",
          {},
          h("strong", { text: fmtDateTime(clip.triggered_at) }),
          h("p", { class: "muted small", text: facts.join(" · ") }),
        ),
        h("div", { class: "button-row" }, video, snap),
      );
    }),
  );
}
