// Overview: one card per zone with its state colour, live %LEL per channel with a sparkline, the
// identified gas and its confidence, sensor health and valve states. Operators put a channel in TEST
// (bump test or calibration with test gas) from its row, and end the test there.

import { isUnacked } from "../alarms.js";
import { api, ApiError } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { store } from "../store.js";
import { createSparkline, drawSparkline } from "../sparkline.js";
import {
  HEALTH_LABEL,
  STATUS_LABEL,
  VALVE_LABEL,
  fmtNumber,
  fmtTime,
  gasLabel,
  h,
  lelLevel,
  replaceContent,
} from "../ui.js";
import { clockTime } from "../words.js";

export const overviewView = {
  id: "overview",
  title: "Overview",
  mount(root, ctx) {
    let askedNames = false;
    const render = () => {
      replaceContent(root, renderOverview(ctx));
      if (!askedNames && needCameraNames()) {
        askedNames = true;
        loadCameraNames(root);
      }
    };
    render();
    const offs = [
      store.on("zones", render),
      store.on("reading", (channelId) => updateChannel(root, channelId)),
      store.on("identification", render),
      store.on("camera", (cameraId) => updateCamera(root, cameraId)),
    ];
    return () => offs.forEach((off) => off());
  },
};

function renderOverview(ctx) {
  const zones = [...store.zones.values()];
  return [
    h("h1", { text: "Zones" }),
    zones.length === 0
      ? h("p", { class: "empty", testid: "zones-empty", text: "No zones yet: waiting for the live data." })
      : h("div", { class: "zone-grid" }, zones.map((zone) => zoneCard(zone, ctx))),
  ];
}

function zoneCard(zone, ctx) {
  const status = zone.status || "normal";
  const alarms = zone.alarms || [];
  const unacked = alarms.filter(isUnacked).length;
  const titleId = `zone-title-${zone.id}`;
  return h(
    "article",
    {
      class: `zone-card status-${status}`,
      testid: `zone-card-${zone.id}`,
      "data-status": status,
      "aria-labelledby": titleId,
    },
    h(
      "header",
      { class: "zone-head" },
      h("h2", { id: titleId, text: zone.name || zone.id }),
      h("span", {
        class: `badge status-${status}`,
        testid: `zone-status-${zone.id}`,
        text: STATUS_LABEL[status] || status,
      }),
    ),
    zone.tripped
      ? h("p", {
          class: "trip-cause",
          testid: `zone-trip-cause-${zone.id}`,
          text: `Tripped${zone.trip_cause ? `: ${zone.trip_cause}` : ""}. Gas valves stay closed until an operator resets.`,
        })
      : null,
    channelTable(zone, ctx),
    identification(zone),
    (zone.cameras || []).map((cameraId) =>
      h("p", {
        class: "camera-line",
        testid: `zone-camera-${cameraId}`,
        "data-camera": cameraId,
        text: cameraText(cameraId),
      }),
    ),
    h(
      "ul",
      { class: "valve-list", "aria-label": `Valves in ${zone.name || zone.id}` },
      (zone.valves || []).map((v) =>
        h(
          "li",
          { testid: `zone-valve-${v.id}` },
          `${v.name || v.id}: `,
          h("span", { class: `badge valve-${v.state}`, text: VALVE_LABEL[v.state] || v.state }),
        ),
      ),
    ),
    h(
      "p",
      { class: "zone-alarms" },
      h("a", {
        href: "#/alarms",
        testid: `zone-alarms-${zone.id}`,
        text:
          alarms.length === 0
            ? "No active alarms"
            : `${alarms.length} active alarm${alarms.length === 1 ? "" : "s"}` +
              (unacked ? ` (${unacked} unacknowledged)` : ""),
      }),
    ),
  );
}

function channelTable(zone, ctx) {
  const operator = ctx.can("operator");
  return h(
    "table",
    { class: "channels" },
    h("caption", { class: "visually-hidden", text: `Gas channels in ${zone.name || zone.id}` }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col", text: "Channel" }),
        h("th", { scope: "col", class: "num", text: "%LEL" }),
        h("th", { scope: "col", text: "Trend" }),
        h("th", { scope: "col", class: "num", text: "Reading" }),
        h("th", { scope: "col", text: "Health" }),
        operator ? h("th", { scope: "col", text: "Test" }) : null,
      ),
    ),
    h(
      "tbody",
      {},
      (zone.channels || []).map((ch) => channelRow(ch, operator, ctx)),
    ),
  );
}

function channelRow(ch, operator, ctx) {
  const spark = createSparkline(`%LEL trend of ${ch.name || ch.id}`, `channel-spark-${ch.id}`);
  drawSparkline(spark, store.sparks.get(ch.id) || [], ch.setpoints ? ch.setpoints.a2 : null);
  const health = ch.over_range ? "over_range" : ch.health || "ok";
  return h(
    "tr",
    { testid: `channel-row-${ch.id}`, "data-channel": ch.id },
    h(
      "th",
      { scope: "row", class: "ch-name" },
      h("span", { text: ch.name || ch.id }),
      h("span", { class: "muted small", text: gasLabel(ch.gas) }),
      ch.test_until
        ? h("span", {
            class: "badge test-badge",
            testid: `channel-test-${ch.id}`,
            text: `In TEST until ${clockTime(ch.test_until)}`,
            title: "Bump test or calibration: this detector does not vote and its alarms are test alarms",
          })
        : null,
    ),
    h("td", {
      class: `num ch-lel lel lel-${lelLevel(ch.lel_pct, ch.setpoints)}`,
      testid: `channel-lel-${ch.id}`,
      text: fmtNumber(ch.lel_pct),
    }),
    h("td", { class: "ch-trend" }, spark),
    h("td", {
      class: "num ch-value",
      testid: `channel-value-${ch.id}`,
      title: ch.ts ? `at ${fmtTime(ch.ts)}` : "no reading yet",
      text:
        ch.value === null || ch.value === undefined
          ? "—"
          : `${fmtNumber(ch.value, ch.unit === "ppm" ? 0 : 1)} ${unitLabel(ch.unit)}`,
    }),
    h(
      "td",
      { class: "ch-health" },
      h("span", {
        class: `badge health-${health}`,
        testid: `channel-health-${ch.id}`,
        text: (HEALTH_LABEL[health] || health) + (ch.in_service === false ? " (out of service)" : ""),
      }),
    ),
    operator ? h("td", { class: "ch-actions" }, testButton(ch, ctx)) : null,
  );
}

function testButton(ch, ctx) {
  const name = ch.name || ch.id;
  if (ch.test_until) {
    return h("button", {
      type: "button",
      class: "btn",
      testid: `channel-end-test-${ch.id}`,
      text: "End test",
      "aria-label": `End the test of ${name}`,
      onclick: () => endTest(ch, ctx),
    });
  }
  return h("button", {
    type: "button",
    class: "btn",
    testid: `channel-test-button-${ch.id}`,
    text: "Test…",
    "aria-label": `Put ${name} in TEST`,
    onclick: () => startTest(ch, ctx),
  });
}

async function startTest(ch, ctx) {
  const name = ch.name || ch.id;
  let until = null;
  const done = await confirmWithReason({
    title: `Put ${name} in TEST?`,
    body:
      "For a bump test or calibration with test gas. While in TEST this detector does not vote and its alarms " +
      "are test alarms that drive no sounder or valve; the zone's other detectors keep protecting (a zone with " +
      "no other detector is tripped for the test, its valves closed). Refused while it reads gas. The test ends by itself.",
    confirmLabel: "Start test",
    fields: [{ name: "minutes", label: "For how many minutes (1-30)", type: "number", value: 15, min: 1, max: 30 }],
    action: async (values) => {
      await api(`/api/v1/channels/${encodeURIComponent(ch.id)}/test`, {
        method: "POST",
        body: { reason: values.reason, minutes: values.minutes },
      });
      until = Date.now() / 1000 + values.minutes * 60;
    },
  });
  if (done) ctx.announce(`${name} is in TEST until about ${clockTime(until)}.`, "ok");
  await ctx.refresh();
}

async function endTest(ch, ctx) {
  const name = ch.name || ch.id;
  try {
    await api(`/api/v1/channels/${encodeURIComponent(ch.id)}/end-test`, { method: "POST", body: { reason: "" } });
    ctx.announce(`Test of ${name} ended: it votes again, and gas it still reads counts at once.`, "ok");
  } catch (err) {
    ctx.announce(`End of the test of ${name} refused: ${err instanceof ApiError ? err.detail : err}`, "alarm");
  }
  await ctx.refresh();
}

function unitLabel(unit) {
  return unit === "lel_pct" ? "%LEL" : unit || "";
}

function identification(zone) {
  const ident = zone.identification;
  // Without an identification the zone has no gas-type model: say so, rather than "none", which would
  // read as "no gas" beside a detector reading thousands of ppm.
  const text =
    ident && ident.gas
      ? `Identified gas: ${gasLabel(ident.gas)} (${Math.round((ident.confidence ?? 0) * 100)} % confidence)`
      : "Gas type: no gas-type model for this zone (each detector shows the gas it is set up for).";
  return h("p", { class: "ident", testid: `zone-ident-${zone.id}`, text });
}

/** Live reading: change the numbers and the sparkline in place, without rebuilding the card. */
function updateChannel(root, channelId) {
  const found = store.channel(channelId);
  if (!found) return;
  const { channel } = found;
  const row = root.querySelector(`tr[data-channel="${CSS.escape(channelId)}"]`);
  if (!row) return;
  const lel = row.querySelector(".lel");
  lel.textContent = fmtNumber(channel.lel_pct);
  lel.className = `num ch-lel lel lel-${lelLevel(channel.lel_pct, channel.setpoints)}`;
  const value = row.querySelector(`[data-testid="channel-value-${CSS.escape(channelId)}"]`);
  value.textContent = `${fmtNumber(channel.value, channel.unit === "ppm" ? 0 : 1)} ${unitLabel(channel.unit)}`;
  value.title = `at ${fmtTime(channel.ts)}`;
  drawSparkline(
    row.querySelector(".sparkline"),
    store.sparks.get(channelId) || [],
    channel.setpoints ? channel.setpoints.a2 : null,
  );
}

function cameraText(cameraId) {
  const cam = store.cameras.get(cameraId) || {};
  const name = cam.name || cameraId;
  const label = /camera/i.test(name) ? name : `Camera ${name}`;
  if (typeof cam.leak_score !== "number") return `${label}: no frame yet`;
  return `${label}: leak score ${cam.leak_score.toFixed(2)}${cam.leak ? " — plume seen" : ""}`;
}

/** The live feed carries camera ids only: fetch the names once, so the card says "Kitchen thermal camera". */
function needCameraNames() {
  return [...store.zones.values()].some((z) => (z.cameras || []).some((id) => !store.cameras.get(id)?.name));
}

async function loadCameraNames(root) {
  try {
    for (const cam of await api("/api/v1/cameras")) {
      store.cameras.set(cam.id, { ...(store.cameras.get(cam.id) || {}), ...cam, camera: cam.id });
      updateCamera(root, cam.id);
    }
  } catch {
    // names are a nicety; the ids still say which camera
  }
}

function updateCamera(root, cameraId) {
  const line = root.querySelector(`[data-camera="${CSS.escape(cameraId)}"]`);
  if (line) line.textContent = cameraText(cameraId);
}
