// Event and audit log: filter by kind, zone, actor, source and time; a page at a time, older and newer;
// export CSV. Each event reads as a sentence; its reason is shown once, beside it.

import { api, query } from "../api.js";
import { store } from "../store.js";
import { downloadBlob, fmtDateTime, fmtTime, h, labelCells, labelRow, replaceContent } from "../ui.js";
import { describeEvent, eventKindLabel, zoneName } from "../words.js";
import { testTag } from "./alarms.js";

const KINDS = ["alarm", "valve", "valve_command", "trip", "operator", "health", "output", "audit"];
const COLUMNS = ["Time", "Kind", "Zone", "Source", "Who", "Reason", "What happened"];
const PHONE = "(max-width: 720px)";

/** Fewer rows a page on a phone: a page should be a few screens, not dozens. */
function pageSize() {
  return window.matchMedia(PHONE).matches ? 20 : 50;
}

export const eventsView = {
  id: "events",
  title: "Events",
  mount(root) {
    const kind = h(
      "select",
      { id: "events-kind", testid: "events-kind" },
      h("option", { value: "", text: "All kinds" }),
      KINDS.map((k) => h("option", { value: k, text: eventKindLabel(k) })),
    );
    const zone = h(
      "select",
      { id: "events-zone", testid: "events-zone" },
      h("option", { value: "", text: "All zones" }),
      [...store.zones.values()].map((z) => h("option", { value: z.id, text: z.name || z.id })),
    );
    const actor = h("input", { id: "events-actor", type: "text", testid: "events-actor", autocomplete: "off" });
    const source = h("input", { id: "events-source", type: "text", testid: "events-source", autocomplete: "off" });
    const start = h("input", { id: "events-start", type: "datetime-local", testid: "events-start" });
    const end = h("input", { id: "events-end", type: "datetime-local", testid: "events-end" });
    const status = h("p", { class: "muted", role: "status", testid: "events-status" });
    const tbody = h("tbody", {});
    const table = labelCells(
      h(
        "table",
        { class: "data events", testid: "events-table" },
        h("caption", { class: "visually-hidden", text: "Events, newest first" }),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            COLUMNS.map((t) => h("th", { scope: "col", text: t })),
          ),
        ),
        tbody,
      ),
    );
    const newest = h("button", { type: "button", class: "btn", testid: "events-newest", text: "Newest" });
    const newer = h("button", { type: "button", class: "btn", testid: "events-newer", text: "← Newer" });
    const older = h("button", { type: "button", class: "btn", testid: "events-older", text: "Older →" });
    const pager = h(
      "nav",
      { class: "pager", "aria-label": "Event pages", testid: "events-pager" },
      newest,
      newer,
      older,
    );
    let page = null;
    let pageNumber = 1;

    const filters = () => ({
      kind: kind.value || undefined,
      zone: zone.value || undefined,
      actor: actor.value.trim() || undefined,
      source: source.value.trim() || undefined,
      start: start.value ? new Date(start.value).getTime() / 1000 : undefined,
      end: end.value ? new Date(end.value).getTime() / 1000 : undefined,
    });

    /** direction: "first" (newest), "older" or "newer", from the page on screen. */
    const load = async (direction = "first") => {
      status.textContent = "Loading…";
      const cursor =
        direction === "older" && page
          ? { before_id: page.next_before_id, before_ts: page.next_before_ts }
          : direction === "newer" && page
            ? { after_id: page.next_after_id, after_ts: page.next_after_ts }
            : {};
      try {
        const next = await api(`/api/v1/events${query({ ...filters(), limit: pageSize(), ...cursor })}`);
        page = next;
        pageNumber = direction === "older" ? pageNumber + 1 : direction === "newer" ? Math.max(1, pageNumber - 1) : 1;
        if (!page.next_after_id) pageNumber = 1;
        tbody.replaceChildren(...page.events.map((event) => labelRow(eventRow(event), COLUMNS)));
        newer.disabled = !page.next_after_id;
        newest.disabled = !page.next_after_id;
        older.disabled = !page.next_before_id;
        pager.hidden = newer.disabled && older.disabled;
        status.textContent = describePage(page.events, pageNumber);
        if (direction !== "first") table.scrollIntoView({ block: "start" });
      } catch (err) {
        status.textContent = `Could not load events: ${err.detail || err}`;
      }
    };

    const exportCsv = async () => {
      status.textContent = "Preparing CSV…";
      try {
        const response = await api(`/api/v1/events${query({ ...filters(), format: "csv" })}`, { raw: true });
        const blob = await response.blob();
        downloadBlob(blob, `gasguard-events-${new Date().toISOString().slice(0, 19).replace(/:/g, "")}.csv`);
        status.textContent = "CSV exported.";
      } catch (err) {
        status.textContent = `Export failed: ${err.detail || err}`;
      }
    };

    newest.addEventListener("click", () => load("first"));
    newer.addEventListener("click", () => load("newer"));
    older.addEventListener("click", () => load("older"));
    const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id, text: label }), input);
    const form = h(
      "form",
      {
        class: "filter-grid",
        onsubmit: (e) => {
          e.preventDefault();
          load("first");
        },
      },
      field("events-kind", "Kind", kind),
      field("events-zone", "Zone", zone),
      field("events-actor", "Who", actor),
      field("events-source", "Source", source),
      field("events-start", "From", start),
      field("events-end", "To", end),
      h(
        "div",
        { class: "actions field-buttons" },
        h("button", { type: "submit", class: "btn btn-primary", testid: "events-apply", text: "Filter" }),
        h("button", { type: "button", class: "btn", testid: "events-export", text: "Export CSV", onclick: exportCsv }),
      ),
    );
    // On a phone the filters fold away under one line, so the log itself is on the first screen.
    const box = h(
      "details",
      { class: "filter-box", testid: "events-filters", open: !window.matchMedia(PHONE).matches },
      h("summary", { text: "Filter and export" }),
      form,
    );
    replaceContent(root, h("h1", { text: "Events and audit log" }), box, status, table, pager);
    load("first");
    return () => {};
  },
};

function describePage(events, pageNumber) {
  if (!events.length) return "No events match.";
  const newestTs = fmtTime(events[0].ts);
  const oldestTs = fmtTime(events[events.length - 1].ts);
  const count = `${events.length} event${events.length === 1 ? "" : "s"}`;
  return `Page ${pageNumber}: ${count}, newest first, from ${oldestTs} to ${newestTs}.`;
}

function eventRow(event) {
  return h(
    "tr",
    { "data-kind": event.kind, "data-id": event.id, testid: "event-row" },
    h("td", { class: "nowrap", text: fmtDateTime(event.ts) }),
    h("td", { text: eventKindLabel(event.kind) }),
    h("td", { text: zoneName(event.zone) }),
    h("td", { class: "break", text: event.source || "" }),
    h("td", { text: event.actor || "" }),
    h("td", { class: "break", text: event.reason || "" }),
    h(
      "td",
      { class: "details", testid: "event-details" },
      h("span", {}, event.payload && event.payload.test === true ? [testTag("event-test"), " "] : null, describeEvent(event)),
    ),
  );
}
