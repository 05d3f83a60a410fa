// Event and audit log: filter by kind, zone, actor, source and time; page back; export CSV.

import { api, query } from "../api.js";
import { store } from "../store.js";
import { downloadBlob, fmtDateTime, h, replaceContent } from "../ui.js";

const KINDS = ["alarm", "valve", "valve_command", "trip", "operator", "health", "audit"];

export const eventsView = {
  id: "events",
  title: "Events",
  mount(root) {
    const kind = h(
      "select",
      { id: "events-kind", testid: "events-kind" },
      h("option", { value: "", text: "All kinds" }),
      KINDS.map((k) => h("option", { value: k, text: k.replace("_", " ") })),
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
    const more = h("button", { type: "button", class: "btn", testid: "events-more", text: "Load older" });
    more.hidden = true;
    let nextBefore = null;

    const filters = () => ({
      kind: kind.value || undefined,
      zone: zone.value || undefined,
      actor: actor.value.trim() || undefined,
      source: source.value.trim() || undefined,
      start: start.value ? new Date(start.value).getTime() / 1000 : undefined,
      end: end.value ? new Date(end.value).getTime() / 1000 : undefined,
    });

    const load = async (append) => {
      status.textContent = "Loading…";
      try {
        const page = await api(
          `/api/v1/events${query({ ...filters(), limit: 100, before_id: append ? nextBefore : undefined })}`,
        );
        if (!append) tbody.replaceChildren();
        for (const event of page.events) tbody.append(eventRow(event));
        nextBefore = page.next_before_id;
        more.hidden = nextBefore === null || nextBefore === undefined;
        status.textContent = tbody.children.length ? `${tbody.children.length} events shown, newest first.` : "No events match.";
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

    more.addEventListener("click", () => load(true));
    const form = h(
      "form",
      {
        class: "filters",
        onsubmit: (e) => {
          e.preventDefault();
          load(false);
        },
      },
      h("label", { for: "events-kind", text: "Kind" }),
      kind,
      h("label", { for: "events-zone", text: "Zone" }),
      zone,
      h("label", { for: "events-actor", text: "Who" }),
      actor,
      h("label", { for: "events-source", text: "Source" }),
      source,
      h("label", { for: "events-start", text: "From" }),
      start,
      h("label", { for: "events-end", text: "To" }),
      end,
      h("button", { type: "submit", class: "btn btn-primary", testid: "events-apply", text: "Filter" }),
      h("button", { type: "button", class: "btn", testid: "events-export", text: "Export CSV", onclick: exportCsv }),
    );
    replaceContent(
      root,
      h("h1", { text: "Events and audit log" }),
      form,
      status,
      h(
        "table",
        { class: "data", testid: "events-table" },
        h("caption", { class: "visually-hidden", text: "Events, newest first" }),
        h(
          "thead",
          {},
          h("tr", {}, ["Time", "Kind", "Zone", "Source", "Who", "Reason", "Details"].map((t) => h("th", { scope: "col", text: t }))),
        ),
        tbody,
      ),
      more,
    );
    load(false);
    return () => {};
  },
};

function eventRow(event) {
  const payload = event.payload || {};
  const details = Object.entries(payload)
    .map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`)
    .join(", ");
  return h(
    "tr",
    { "data-kind": event.kind, testid: "event-row" },
    h("td", { text: fmtDateTime(event.ts) }),
    h("td", { text: event.kind }),
    h("td", { text: event.zone || "" }),
    h("td", { text: event.source || "" }),
    h("td", { text: event.actor || "" }),
    h("td", { text: event.reason || "" }),
    h("td", { class: "details", text: details }),
  );
}
