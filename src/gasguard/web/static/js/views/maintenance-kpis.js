// Alarm performance per week on the Health screen (everyone): for each week and site, and each of its
// zones, the ISA-18.2 / EEMUA 191 figures from GET /api/v1/maintenance/kpis/weekly: alarms per operator
// per 10 minutes (average and peak, share of 10-minute slices in flood), chattering and standing alarms,
// time shelved and out of service, and time to acknowledge. Above EEMUA's "manageable" average the cell
// is flagged, so a bad week stands out without reading every number.

import { api, ApiError, query } from "../api.js";
import { h, labelCells, replaceContent } from "../ui.js";
import { zoneName } from "../words.js";

const WEEKS = [
  { value: "4", label: "Last 4 weeks" },
  { value: "8", label: "Last 8 weeks" },
  { value: "13", label: "Last 13 weeks" },
];

const HEADS = [
  "Week",
  "Where",
  "Alarms",
  "Per operator per 10 min (average / peak)",
  "Flood",
  "Chattering",
  "Standing",
  "Shelved",
  "Out of service",
  "Time to acknowledge (median / 90 %)",
  "Unacknowledged",
];

/** The weekly KPI section; returns `{el, stop}`. */
export function weeklyKpis() {
  let stopped = false;
  const weeks = h(
    "select",
    { id: "maint-kpi-weeks", testid: "maintenance-kpi-weeks" },
    WEEKS.map((w) => h("option", { value: w.value, text: w.label })),
  );
  const body = h("div", { testid: "maintenance-kpis" }, h("p", { class: "muted", text: "Loading…" }));
  const load = async (event) => {
    event?.preventDefault();
    try {
      const rows = await api(`/api/v1/maintenance/kpis/weekly${query({ weeks: weeks.value })}`);
      if (!stopped) replaceContent(body, kpiTable(rows));
    } catch (err) {
      if (stopped) return;
      replaceContent(
        body,
        h("p", {
          class: "message message-error",
          role: "alert",
          testid: "maintenance-kpis-error",
          text: `Alarm figures unavailable: ${err instanceof ApiError ? err.detail : err}`,
        }),
      );
    }
  };
  const el = h(
    "section",
    { class: "maint-tools", testid: "maintenance-kpi-tools", "aria-labelledby": "maint-kpi-title" },
    h("h3", { id: "maint-kpi-title", text: "Alarm performance per week" }),
    h("p", {
      class: "hint",
      text:
        "ISA-18.2 / EEMUA 191: about 1 alarm per operator per 10 minutes is very likely acceptable, 2 manageable; " +
        "more than 10 in 10 minutes is a flood. Test alarms are left out.",
    }),
    h(
      "form",
      { class: "filters", onsubmit: load },
      h("label", { for: "maint-kpi-weeks", text: "Period" }),
      weeks,
      h("button", { type: "submit", class: "btn btn-primary", testid: "maintenance-kpi-show", text: "Show" }),
    ),
    body,
  );
  load();
  return {
    el,
    stop: () => {
      stopped = true;
    },
  };
}

function kpiTable(rows) {
  if (!rows.length) return h("p", { class: "empty", testid: "maintenance-kpis-empty", text: "No sites configured." });
  // Newest week first: the one an operator asks about.
  const weeks = [...rows].sort((a, b) => b.week_start - a.week_start);
  // Week 0 is the newest, 1 the one before: a stable name for each row whatever the clock says.
  const starts = [...new Set(weeks.map((w) => w.week_start))];
  const ago = (week) => starts.indexOf(week.week_start);
  return labelCells(
    h(
      "table",
      { class: "data kpi-table", testid: "maintenance-kpi-table" },
      h("thead", {}, h("tr", {}, HEADS.map((t) => h("th", { scope: "col", text: t })))),
      h(
        "tbody",
        {},
        weeks.flatMap((week) => [
          kpiRow(week, week.site, `maintenance-kpi-${week.site}-${ago(week)}`, true),
          ...(week.zones || []).map((zone) =>
            kpiRow(
              { ...zone, week_start: week.week_start },
              zoneName(zone.zone),
              `maintenance-kpi-${week.site}-${zone.zone}-${ago(week)}`,
              false,
            ),
          ),
        ]),
      ),
    ),
  );
}

function kpiRow(k, where, testid, isSite) {
  const rate = k.per_operator_per_10min || {};
  const ack = k.time_to_ack_s || {};
  const targets = k.targets || {};
  const busy = rate.average > (targets.average_per_10min_manageable ?? 2);
  const flood = rate.flood_slices > 0;
  return h(
    "tr",
    { testid, class: isSite ? "kpi-site" : "kpi-zone", "data-site": isSite ? "yes" : "no" },
    h("td", { class: "nowrap", text: isSite ? weekLabel(k.week_start) : "" }),
    h("td", { text: isSite ? `Site ${where}` : where }),
    h("td", { class: "num", text: String(k.annunciations ?? 0) }),
    h(
      "td",
      { class: "num" },
      h("span", {
        class: busy ? "badge health-down" : "",
        text: `${fmt(rate.average, 2)} / ${fmt(rate.peak, 1)}`,
      }),
    ),
    h("td", { class: "num nowrap" }, h("span", { class: flood ? "badge health-down" : "", text: `${fmt(rate.flood_pct, 1)} %` })),
    h("td", { text: listOrNone(k.chattering) }),
    h("td", { text: listOrNone(k.standing) }),
    h("td", { class: "num", text: duration(k.shelved_s) }),
    h("td", { class: "num", text: duration(k.out_of_service_s) }),
    h("td", { class: "num", text: ack.median === null || ack.median === undefined ? "—" : `${duration(ack.median)} / ${duration(ack.p90)}` }),
    h("td", { class: "num nowrap", text: String(ack.not_acknowledged ?? 0) }),
  );
}

function listOrNone(items) {
  if (!items || items.length === 0) return "none";
  return items.map((i) => i.alarm_id).join(", ");
}

function fmt(value, digits) {
  return value === null || value === undefined || !Number.isFinite(Number(value)) ? "—" : Number(value).toFixed(digits);
}

/** Seconds in the largest sensible unit: "0 s", "45 s", "12 min", "3.5 h". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** "Week of 27 Nov 2026" (the week's first day). */
function weekLabel(ts) {
  const day = new Date(ts * 1000).toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" });
  return `Week of ${day}`;
}
