// Maintenance on the Health screen: what is due or overdue (bump tests and calibrations per detector,
// proof tests per zone), the latest records, and the zero-drift and span warnings. Read only: records
// are made by the guided tests and the API (docs/maintenance.md). Loaded once per visit, and on Refresh.

import { api, ApiError, query } from "../api.js";
import { fmtDateTime, h, labelCells, replaceContent } from "../ui.js";
import { channelName, valveName, withNames, zoneName } from "../words.js";
import { mountMaintenanceTools } from "./maintenance-tools.js";

const WHAT = {
  bump: "Bump test",
  calibration: "Calibration",
  proof_test: "Proof test",
  stroke: "Stroke test",
};

const STATUS = {
  failed: { text: "Failed", tone: "health-down" },
  overdue: { text: "Overdue", tone: "health-down" },
  never: { text: "Never done", tone: "status-warning" },
  due_soon: { text: "Due soon", tone: "status-warning" },
  ok: { text: "In date", tone: "health-ok" },
};

/**
 * Fill `box` (a section) with the maintenance picture and, below it, the tools (record forms and
 * guided tests for operators, the drift chart and the report for everyone); returns the function
 * that stops it.
 */
export function mountMaintenance(box, ctx) {
  const state = { due: null, records: null, drift: null, error: null, showAll: false };
  let stopped = false;
  const picture = h("div", {});
  const tools = h("div", { class: "maint-tools-box" });
  box.replaceChildren(picture, tools);
  const render = () => {
    if (!stopped) replaceContent(picture, renderMaintenance(state, render, load));
  };
  const load = async () => {
    const [due, records, drift] = await Promise.allSettled([
      api("/api/v1/maintenance/due"),
      api(`/api/v1/maintenance/records${query({ limit: 20 })}`),
      api("/api/v1/maintenance/drift"),
    ]);
    const why = (r) => (r.reason instanceof ApiError ? r.reason.detail : String(r.reason));
    state.due = due.status === "fulfilled" ? due.value : { error: why(due) };
    state.records = records.status === "fulfilled" ? records.value : { error: why(records) };
    state.drift = drift.status === "fulfilled" ? drift.value : { error: why(drift) };
    render();
  };
  render();
  load();
  const stopTools = mountMaintenanceTools(tools, ctx, () => load());
  return () => {
    stopped = true;
    stopTools();
  };
}

function renderMaintenance(state, rerender, reload) {
  return [
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "maintenance-title", text: "Maintenance" }),
      h("button", { type: "button", class: "btn", testid: "maintenance-refresh", text: "Refresh", onclick: reload }),
    ),
    h("p", {
      class: "hint",
      text: "Bump tests and calibrations per detector, proof tests per zone: what is due, the latest records, and drift.",
    }),
    h("h3", { text: "Due and overdue" }),
    dueTable(state, rerender),
    h("h3", { text: "Drift" }),
    driftList(state.drift),
    h("h3", { text: "Latest records" }),
    recordsTable(state.records),
  ];
}

function targetName(kind, target) {
  if (kind === "proof_test") return zoneName(target);
  if (kind === "stroke") return valveName(target);
  return channelName(target);
}

function dueTable(state, rerender) {
  if (state.due === null) return h("p", { class: "muted", text: "Loading…" });
  if (state.due.error) return errorLine("maintenance-due-error", `Due dates unavailable: ${state.due.error}`);
  const items = state.due;
  if (items.length === 0) return h("p", { class: "empty", testid: "maintenance-due-empty", text: "Nothing to maintain." });
  const urgent = items.filter((i) => i.status !== "ok");
  const shown = state.showAll ? items : urgent;
  return [
    h("p", {
      class: "muted",
      testid: "maintenance-due-summary",
      text:
        urgent.length === 0
          ? `All ${items.length} in date.`
          : `${urgent.length} of ${items.length} need attention${state.showAll ? "" : "; the rest are in date"}.`,
    }),
    shown.length
      ? labelCells(
          h(
            "table",
            { class: "data", testid: "maintenance-due" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["What", "Of", "Zone", "Status", "Due", "Last done"].map((t) => h("th", { scope: "col", text: t })),
              ),
            ),
            h(
              "tbody",
              {},
              shown.map((item) => {
                const status = STATUS[item.status] || { text: item.status, tone: "" };
                return h(
                  "tr",
                  { testid: `maintenance-due-${item.kind}-${item.target}`, "data-status": item.status },
                  h("td", { text: WHAT[item.kind] || item.kind }),
                  h("td", { text: targetName(item.kind, item.target) }),
                  h("td", { text: zoneName(item.zone) }),
                  h("td", {}, h("span", { class: `badge ${status.tone}`, text: status.text })),
                  h("td", { text: item.due_at ? fmtDate(item.due_at) : "now" }),
                  h("td", {
                    text: item.last_at ? `${fmtDate(item.last_at)} (${item.last_passed ? "passed" : "failed"})` : "never",
                  }),
                );
              }),
            ),
          ),
        )
      : null,
    items.length > urgent.length
      ? h("button", {
          type: "button",
          class: "btn due-toggle",
          testid: "maintenance-due-toggle",
          text: state.showAll ? "Show only what needs attention" : `Show all ${items.length}`,
          onclick: () => {
            state.showAll = !state.showAll;
            rerender();
          },
        })
      : null,
  ];
}

function driftList(drift) {
  if (drift === null) return h("p", { class: "muted", text: "Loading…" });
  if (drift.error) return errorLine("maintenance-drift-error", `Drift unavailable: ${drift.error}`);
  const when = drift.computed_at ? `Worked out at ${fmtDateTime(drift.computed_at)}.` : "Not worked out yet (daily).";
  if (!drift.warnings || drift.warnings.length === 0) {
    return h("p", { class: "muted", testid: "maintenance-drift", text: `No drift warnings. ${when}` });
  }
  return h(
    "div",
    { testid: "maintenance-drift" },
    h("ul", { class: "drift-list" }, drift.warnings.map((w) => h("li", { text: withNames(w) }))),
    h("p", { class: "muted", text: when }),
  );
}

function recordsTable(records) {
  if (records === null) return h("p", { class: "muted", text: "Loading…" });
  if (records.error) return errorLine("maintenance-records-error", `Records unavailable: ${records.error}`);
  if (records.length === 0) {
    return h("p", { class: "empty", testid: "maintenance-records-empty", text: "No maintenance recorded yet." });
  }
  return labelCells(
    h(
      "table",
      { class: "data", testid: "maintenance-records" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Time", "What", "Of", "By", "Result", "Note"].map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      h(
        "tbody",
        {},
        records.map((r) =>
          h(
            "tr",
            { testid: "maintenance-record", "data-kind": r.kind },
            h("td", { class: "nowrap", text: fmtDateTime(r.ts) }),
            h("td", { text: WHAT[r.kind] || r.kind }),
            h("td", { text: targetName(r.kind, r.target) }),
            h("td", { text: r.performed_by }),
            h("td", {}, h("span", { class: `badge ${r.passed ? "health-ok" : "health-down"}`, text: r.passed ? "Passed" : "Failed" })),
            h("td", { class: "break", text: r.note || "" }),
          ),
        ),
      ),
    ),
  );
}

/** A due date is a day, not a moment: "3 Jan 2027". */
function fmtDate(ts) {
  return new Date(ts * 1000).toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" });
}

function errorLine(testid, text) {
  return h("p", { class: "message message-error", role: "alert", testid, text });
}
