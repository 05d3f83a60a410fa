// Thermal cameras: the latest frame, polled with the bearer token (an <img src> cannot send headers),
// with the plume mask or Grad-CAM drawn over it, and the leak score.

import { api, ApiError } from "../api.js";
import { store } from "../store.js";
import { fmtTime, h, replaceContent } from "../ui.js";
import { zoneName } from "../words.js";

const FRAME_INTERVAL_MS = 1000;
const LIST_INTERVAL_MS = 5000;

export const camerasView = {
  id: "cameras",
  title: "Cameras",
  mount(root) {
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
          const panel = cameraPanel(cam);
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
      for (const cam of cameras) panels.get(cam.id)?.updateScore();
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

function cameraPanel(cam) {
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
  };

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
  );
  fetchFrame();
  return {
    el,
    updateScore,
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (url) URL.revokeObjectURL(url);
    },
  };
}
