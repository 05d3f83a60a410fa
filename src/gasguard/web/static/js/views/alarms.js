// Alarm summary after ISA-18.2: unacknowledged first; acknowledge, shelve (with reason and expiry),
// unshelve; zone reset (refused by the safety core while gas is still present, and the reason shown)
// for every zone that needs one: tripped, latched, or with a valve closed by hand. Test alarms (from a
// channel in TEST) carry a TEST tag. Below the alarms, the notification incidents (incidents.js).

import { api, ApiError, query } from "../api.js";
import { isUnacked, sortAlarms } from "../alarms.js";
import { confirmWithReason } from "../dialog.js";
import { resetWhy, resetZone, zoneNeedsReset } from "../reset.js";
import { store } from "../store.js";
import {
  ALARM_STATE_LABEL,
  LEVEL_LABEL,
  fmtNumber,
  fmtTime,
  h,
  labelCells,
  messageLine,
  replaceContent,
} from "../ui.js";
import { alarmSourceName, isTestAlarm, zoneName } from "../words.js";
import { mountIncidents } from "./incidents.js";

/** Last outcome per zone reset / alarm action, kept across redraws so the operator can read it. */
const messages = new Map();

export const alarmsView = {
  id: "alarms",
  title: "Alarms",
  mount(root, ctx) {
    messages.clear(); // outcomes belong to this visit of the screen, not to the next one
    // The incidents keep their own section, drawn by incidents.js, moved along on every redraw.
    const incidents = h("section", { class: "panel", testid: "incidents-panel", "aria-labelledby": "incidents-title" });
    const state = { history: null, incidents };
    const render = () => replaceContent(root, renderAlarms(ctx, state, render));
    const stopIncidents = mountIncidents(incidents, ctx);
    render();
    const off = store.on("zones", render);
    return () => {
      off();
      stopIncidents();
    };
  },
};

function renderAlarms(ctx, state, rerender) {
  const operator = ctx.can("operator");
  const alarms = sortAlarms(store.alarms());
  const resettable = [...store.zones.values()].filter(zoneNeedsReset);
  const unacked = alarms.filter(isUnacked);
  return [
    h("h1", { text: "Alarms" }),
    messageLine("alarm-msg", messages.get("alarms")),
    resettable.length
      ? h(
          "section",
          { class: "panel", "aria-labelledby": "latched-title" },
          h("h2", { id: "latched-title", text: "Zones to reset" }),
          resettable.map((zone) => resetRow(zone, operator, ctx, rerender)),
        )
      : null,
    h(
      "section",
      { class: "panel", "aria-labelledby": "active-title" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: "active-title", text: `Active alarms (${alarms.length})` }),
        operator && unacked.length > 1
          ? h("button", {
              type: "button",
              class: "btn",
              testid: "alarm-ack-all",
              text: `Acknowledge all (${unacked.length})`,
              onclick: () => ackAll(unacked, ctx, rerender),
            })
          : null,
      ),
      alarms.length === 0
        ? h("p", { class: "empty", testid: "alarms-empty", text: "No active alarms." })
        : alarmTable(alarms, operator, ctx, rerender),
    ),
    state.incidents,
    h(
      "section",
      { class: "panel", "aria-labelledby": "history-title" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: "history-title", text: "Recent alarm history" }),
        h("button", {
          type: "button",
          class: "btn",
          testid: "alarm-history-load",
          text: state.history ? "Refresh" : "Show",
          onclick: async () => {
            try {
              state.history = await api(`/api/v1/alarms${query({ include: "history", limit: 50 })}`);
            } catch (err) {
              state.history = { error: err.detail || String(err) };
            }
            rerender();
          },
        }),
      ),
      state.history ? historyTable(state.history) : null,
    ),
  ];
}

function resetRow(zone, operator, ctx, rerender) {
  const key = `reset:${zone.id}`;
  return h(
    "div",
    { class: "reset-row", testid: `reset-row-${zone.id}` },
    h("p", {
      text:
        `${zone.name || zone.id}: ${resetWhy(zone)}. ` +
        (zone.tripped || (zone.alarms || []).some((a) => a.latched)
          ? "Reset when the cause is gone; the valves stay closed until someone opens them."
          : "A reset checks the gas first; then the valves may be opened with a reason."),
    }),
    operator
      ? h("button", {
          type: "button",
          class: "btn btn-primary",
          testid: `zone-reset-${zone.id}`,
          text: `Reset ${zone.name || zone.id}…`,
          onclick: async () => {
            const outcome = await resetZone(zone);
            if (outcome) {
              messages.set(key, outcome);
              messages.set("alarms", outcome);
              ctx.announce(outcome.text, outcome.ok ? "ok" : "alarm");
            }
            await ctx.refresh();
            rerender();
          },
        })
      : null,
    messageLine(`reset-msg-${zone.id}`, messages.get(key)),
  );
}

function alarmTable(alarms, operator, ctx, rerender) {
  return labelCells(
    h(
      "table",
      { class: "data alarms", testid: "alarm-table" },
      h("caption", { class: "visually-hidden", text: "Active alarms, unacknowledged first" }),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Priority", "Zone", "Source", "State", "%LEL at last change", operator ? "Actions" : null]
            .filter(Boolean)
            .map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      h(
        "tbody",
        {},
        alarms.map((alarm) =>
          h(
            "tr",
            {
              testid: `alarm-row-${alarm.id}`,
              "data-state": alarm.state,
              "data-level": alarm.level,
              class: `${isUnacked(alarm) ? "unacked" : ""} level-${String(alarm.level).toLowerCase()}`,
              "data-test-alarm": String(isTestAlarm(alarm)),
            },
            h(
              "td",
              {},
              h(
                "span",
                { class: "tags" },
                h("span", {
                  class: `badge level-${String(alarm.level).toLowerCase()}`,
                  text: LEVEL_LABEL[alarm.level] || alarm.level,
                }),
                isTestAlarm(alarm) ? testTag(`alarm-test-${alarm.id}`) : null,
              ),
            ),
            h("td", { text: alarm.zoneName || alarm.zone }),
            h("td", { text: alarmSourceName(alarm) }),
            h("td", { testid: `alarm-state-${alarm.id}`, text: ALARM_STATE_LABEL[alarm.state] || alarm.state }),
            h("td", { class: "num", text: fmtNumber(alarm.value), title: "%LEL when the alarm last changed state" }),
            operator
              ? h("td", { class: "actions-cell" }, h("div", { class: "actions" }, alarmActions(alarm, ctx, rerender)))
              : null,
          ),
        ),
      ),
    ),
  );
}

function alarmActions(alarm, ctx, rerender) {
  const path = (action) => `/api/v1/alarms/${alarm.id.split("/").map(encodeURIComponent).join("/")}/${action}`;
  const buttons = [];
  if (isUnacked(alarm)) {
    buttons.push(
      h("button", {
        type: "button",
        class: "btn btn-primary",
        testid: `alarm-ack-${alarm.id}`,
        "aria-label": `Acknowledge ${alarm.level} on ${alarm.source}`,
        text: "Acknowledge",
        onclick: () =>
          run(ctx, rerender, () => api(path("ack"), { method: "POST", body: { reason: "" } }), "Acknowledged."),
      }),
    );
  }
  if (alarm.state === "shelved") {
    buttons.push(
      h("button", {
        type: "button",
        class: "btn",
        testid: `alarm-unshelve-${alarm.id}`,
        "aria-label": `Unshelve ${alarm.level} on ${alarm.source}`,
        text: "Unshelve",
        onclick: () =>
          run(ctx, rerender, () => api(path("unshelve"), { method: "POST", body: { reason: "" } }), "Unshelved."),
      }),
    );
  } else {
    buttons.push(
      h("button", {
        type: "button",
        class: "btn",
        testid: `alarm-shelve-${alarm.id}`,
        "aria-label": `Shelve ${alarm.level} on ${alarm.source}`,
        text: "Shelve…",
        onclick: async () => {
          const done = await confirmWithReason({
            title: `Shelve ${alarm.level} on ${alarm.source}?`,
            body: "A shelved alarm is hidden from the summary until it expires or is unshelved. The safety interlock still trips.",
            confirmLabel: "Shelve",
            fields: [
              { name: "minutes", label: "For how many minutes (1-1440)", type: "number", value: 60, min: 1, max: 1440 },
            ],
            action: (values) =>
              api(path("shelve"), { method: "POST", body: { reason: values.reason, minutes: values.minutes } }),
          });
          if (done) {
            messages.set("alarms", { ok: true, text: "Alarm shelved." });
            await ctx.refresh();
            rerender();
          }
        },
      }),
    );
  }
  return buttons;
}

async function run(ctx, rerender, call, okText) {
  try {
    await call();
    messages.set("alarms", { ok: true, text: okText });
  } catch (err) {
    messages.set("alarms", { ok: false, text: err instanceof ApiError ? err.detail : String(err) });
  }
  await ctx.refresh();
  rerender();
}

async function ackAll(alarms, ctx, rerender) {
  const failures = [];
  for (const alarm of alarms) {
    const path = `/api/v1/alarms/${alarm.id.split("/").map(encodeURIComponent).join("/")}/ack`;
    try {
      await api(path, { method: "POST", body: { reason: "" } });
    } catch (err) {
      failures.push(`${alarm.id}: ${err instanceof ApiError ? err.detail : err}`);
    }
  }
  messages.set(
    "alarms",
    failures.length
      ? { ok: false, text: `Not acknowledged: ${failures.join("; ")}` }
      : { ok: true, text: "All acknowledged." },
  );
  await ctx.refresh();
  rerender();
}

/** The tag of a test alarm: raised while its channel was in TEST; it drove no sounder and no valve. */
export function testTag(testid) {
  return h("span", {
    class: "badge test-badge",
    testid,
    text: "TEST",
    title: "Test alarm: its channel was in TEST (bump test or calibration); it drives no output",
  });
}

function historyTable(history) {
  if (history.error) return h("p", { class: "message message-error", role: "alert", text: history.error });
  const events = Array.isArray(history) ? history : history.events || [];
  if (events.length === 0) return h("p", { class: "empty", text: "No alarm history yet." });
  return labelCells(
    h(
      "table",
      { class: "data", testid: "alarm-history" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Time", "Zone", "Source", "Level", "State"].map((t) => h("th", { scope: "col", text: t })),
        ),
      ),
      h(
        "tbody",
        {},
        events.map((e) => {
          const p = e.payload || {};
          return h(
            "tr",
            {},
            h("td", { text: fmtTime(e.ts) }),
            h("td", { text: zoneName(e.zone || p.zone || "") }),
            h("td", { text: p.source ? alarmSourceName({ level: p.level, source: p.source }) : e.source || "" }),
            h(
              "td",
              {},
              h("span", { class: "tags" }, LEVEL_LABEL[p.level] || p.level || "", p.test === true ? testTag("alarm-history-test") : null),
            ),
            h("td", { text: ALARM_STATE_LABEL[p.state] || p.state || e.reason || "" }),
          );
        }),
      ),
    ),
  );
}
