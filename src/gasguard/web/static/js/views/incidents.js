// Notification incidents on the Alarms screen: who has been told about what, and when (sent, repeated,
// escalated, acknowledged by whom). Operators acknowledge an incident here (the repeats and the
// escalation stop, the zone's alarms are acknowledged too; it resets nothing); admins send a test
// message to every route. Reloaded when the live feed carries an alarm, trip, operator or audit event.

import { api, ApiError, query } from "../api.js";
import { store } from "../store.js";
import { fmtNumber, fmtTime, h, messageLine, replaceContent } from "../ui.js";
import { withNames, zoneName } from "../words.js";

const KIND_WORDS = {
  trip: "Trip",
  system: "System failure",
  fault: "Detector fault",
  valve_fault: "Valve fault",
  camera_leak: "Camera saw a leak",
  a1: "Warning",
  maintenance: "Maintenance reminder",
};

const RELOAD_ON = new Set(["alarm", "trip", "operator", "audit", "valve"]);

/** Fill `box` (a section) with the open incidents and keep it current; returns the function that stops it. */
export function mountIncidents(box, ctx) {
  const state = { incidents: null, error: null, message: null, tests: null };
  const render = () => replaceContent(box, renderIncidents(state, ctx, load));
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      state.incidents = await api(`/api/v1/notifications/incidents${query({ open: true, limit: 50 })}`);
      state.error = null;
    } catch (err) {
      state.error = err instanceof ApiError ? err.detail : String(err);
    }
    if (!stopped) render();
  };
  const off = store.on("event", (message) => {
    if (!RELOAD_ON.has(message.type)) return;
    clearTimeout(timer);
    // The notifier stores an incident just after the bus message that opened it: wait a moment.
    timer = setTimeout(load, 700);
  });
  render();
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    off();
  };
}

function renderIncidents(state, ctx, reload) {
  const incidents = state.incidents || [];
  return [
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "incidents-title", text: `Notifications: open incidents${state.incidents ? ` (${incidents.length})` : ""}` }),
      ctx.can("admin")
        ? h("button", {
            type: "button",
            class: "btn",
            testid: "notify-test",
            text: "Send test notification",
            onclick: () => sendTest(state, reload),
          })
        : null,
    ),
    h("p", {
      class: "hint",
      text: "Who has been told, and when. Acknowledging stops the repeats and the escalation and acknowledges the zone's alarms; it does not reset the zone.",
    }),
    messageLine("incident-msg", state.message),
    state.tests ? testResults(state.tests) : null,
    state.error
      ? h("p", { class: "message message-error", role: "alert", testid: "incidents-error", text: `Incidents unavailable: ${state.error}` })
      : null,
    state.incidents === null && !state.error
      ? h("p", { class: "muted", text: "Loading…" })
      : state.incidents && incidents.length === 0
        ? h("p", { class: "empty", testid: "incidents-empty", text: "No open incidents." })
        : h("div", { class: "incident-list" }, incidents.map((incident) => incidentCard(incident, state, ctx, reload))),
  ];
}

function incidentCard(incident, state, ctx, reload) {
  const kind = KIND_WORDS[incident.kind] || incident.kind;
  const where = incident.zone ? zoneName(incident.zone) : "GasGuard";
  const acked = incident.acked_at !== null && incident.acked_at !== undefined;
  return h(
    "article",
    {
      class: `incident-card${acked ? "" : " unacked"}`,
      testid: `incident-${incident.id}`,
      "data-kind": incident.kind,
      "data-acked": String(acked),
    },
    h(
      "div",
      { class: "incident-head" },
      h("h3", { text: `${kind} in ${where}` }),
      h("span", {
        class: `badge ${acked ? "health-ok" : "status-alarm"}`,
        testid: `incident-state-${incident.id}`,
        text: acked ? `Acknowledged by ${incident.acked_by || "someone"}` : "Not acknowledged",
      }),
    ),
    h(
      "p",
      { class: "muted" },
      `Since ${fmtTime(incident.opened_at)}`,
      incident.cause ? ` · ${withNames(incident.cause)}` : "",
      typeof incident.highest_lel === "number" ? ` · highest ${fmtNumber(incident.highest_lel)} %LEL` : "",
    ),
    routesLine(incident),
    h(
      "ol",
      { class: "timeline", testid: `incident-timeline-${incident.id}`, "aria-label": `What happened to this ${kind.toLowerCase()} incident` },
      (incident.timeline || []).map((entry) =>
        h("li", {}, h("time", { class: "muted", text: fmtTime(entry.ts) }), " ", timelineText(entry, incident)),
      ),
    ),
    ctx.can("operator") && !acked
      ? h(
          "div",
          { class: "actions" },
          h("button", {
            type: "button",
            class: "btn btn-primary",
            testid: `incident-ack-${incident.id}`,
            text: "Acknowledge",
            "aria-label": `Acknowledge the ${kind.toLowerCase()} incident in ${where}`,
            onclick: () => acknowledge(incident, state, ctx, reload),
          }),
        )
      : null,
  );
}

function routesLine(incident) {
  const routes = Object.entries(incident.routes || {});
  if (!routes.length) return h("p", { class: "muted", text: "No route has been told yet." });
  return h(
    "p",
    { class: "muted", testid: `incident-routes-${incident.id}` },
    "Told: ",
    routes
      .map(([name, r]) => {
        const repeats = r.repeats ? `, ${r.repeats} repeat${r.repeats === 1 ? "" : "s"}` : "";
        const escalated = r.escalated_from ? `, escalated from ${r.escalated_from}` : "";
        return `${name} (${r.delivered ? "delivered" : "not delivered yet"}${repeats}${escalated})`;
      })
      .join("; "),
  );
}

/** One timeline entry as words: "Sent to on-call-1", "Escalated to on-call-2 (from on-call-1)". */
function timelineText(entry, incident) {
  const what = String(entry.what || "");
  const route = entry.route ? String(entry.route) : "";
  switch (what) {
    case "sent":
      return `Sent to ${route}`;
    case "repeated":
      return `Repeated to ${route}`;
    case "escalated":
      return `Escalated to ${route}${entry.source_route ? ` (not acknowledged on ${entry.source_route})` : ""}`;
    default:
      break;
  }
  const text = withNames(what).replace(/^./, (c) => c.toUpperCase());
  if (incident.acked_by && /^acknowledged by /i.test(what)) return text;
  return route ? `${text} (${route})` : text;
}

async function acknowledge(incident, state, ctx, reload) {
  try {
    const answer = await api(`/api/v1/notifications/incidents/${encodeURIComponent(incident.id)}/ack`, {
      method: "POST",
    });
    const kind = KIND_WORDS[incident.kind] || incident.kind;
    const where = incident.zone ? zoneName(incident.zone) : "GasGuard";
    const by = answer && answer.message ? answer.message.replace(/^incident \S+ /, "") : "acknowledged";
    state.message = { ok: true, text: `${kind} in ${where} ${by}: the repeats and the escalation stop.` };
    ctx.announce("Incident acknowledged: the repeats stop.", "ok");
  } catch (err) {
    state.message = { ok: false, text: `Acknowledge refused: ${err instanceof ApiError ? err.detail : err}` };
  }
  await reload();
  ctx.refresh();
}

async function sendTest(state, reload) {
  state.message = { ok: true, text: "Sending a test message to every route…" };
  state.tests = null;
  await reload();
  try {
    const results = await api("/api/v1/notifications/test", { method: "POST" });
    state.tests = results;
    const failed = results.filter((r) => !r.ok).length;
    state.message =
      results.length === 0
        ? { ok: false, text: "No route has a URL to send to." }
        : failed
          ? { ok: false, text: `Test sent: ${failed} of ${results.length} could not be delivered.` }
          : { ok: true, text: `Test delivered to ${results.length} address${results.length === 1 ? "" : "es"}.` };
  } catch (err) {
    state.message = { ok: false, text: `Test not sent: ${err instanceof ApiError ? err.detail : err}` };
  }
  await reload();
}

function testResults(results) {
  return h(
    "ul",
    { class: "test-results", testid: "notify-test-results" },
    results.map((r) =>
      h(
        "li",
        {},
        h("span", { class: `badge ${r.ok ? "health-ok" : "health-down"}`, text: r.ok ? "Delivered" : "Failed" }),
        ` ${r.route}: ${r.url}${r.error ? ` — ${r.error}` : ""}`,
      ),
    ),
  );
}
