// Valve panel per zone. Close is always available. Open is offered only when the safety core permits
// it (zone reset), and needs a confirmation with a reason; the core has the final word (409 refused).
// Where Open waits for a reset, "Reset zone…" is right beside it. Below the valves, the alarm outputs
// (sounders, beacons, fans, relays and the system-failure relay): see outputs.js.

import { api, ApiError } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { OPENABLE, resetZone, valveNeedsReset } from "../reset.js";
import { store } from "../store.js";
import { STATUS_LABEL, VALVE_LABEL, h, messageLine, replaceContent } from "../ui.js";
import { mountOutputs } from "./outputs.js";

const messages = new Map();

export const valvesView = {
  id: "valves",
  title: "Valves and outputs",
  navTitle: "Valves & outputs", // "Valves and" in bold is wider than a phone's tab: two lines, not three
  mount(root, ctx) {
    messages.clear(); // outcomes belong to this visit of the screen, not to the next one
    const valvesBox = h("div", { class: "valves-box" });
    const outputsBox = h("section", { class: "panel", testid: "outputs-panel", "aria-labelledby": "outputs-title" });
    root.replaceChildren(valvesBox, outputsBox);
    const render = () => replaceContent(valvesBox, renderValves(ctx, render));
    render();
    const off = store.on("zones", render);
    const offOutputs = mountOutputs(outputsBox, ctx);
    return () => {
      off();
      offOutputs();
    };
  },
};

function renderValves(ctx, rerender) {
  const zones = [...store.zones.values()].filter((z) => (z.valves || []).length);
  return [
    h("h1", { text: "Valves and outputs" }),
    h("p", {
      class: "hint",
      text: "Mode: automatic shut-off. GasGuard closes a zone's valves when it trips and never reopens them by itself; opening is manual, after a reset, with a reason.",
    }),
    zones.length === 0
      ? h("p", { class: "empty", testid: "valves-empty", text: "No valves configured." })
      : zones.map((zone) => zoneSection(zone, ctx, rerender)),
  ];
}

function zoneSection(zone, ctx, rerender) {
  const titleId = `valve-zone-title-${zone.id}`;
  return h(
    "section",
    { class: "panel", testid: `valve-zone-${zone.id}`, "aria-labelledby": titleId },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: titleId, text: zone.name || zone.id }),
      h("span", { class: `badge status-${zone.status}`, text: STATUS_LABEL[zone.status] || zone.status }),
    ),
    zone.tripped
      ? h("p", {
          class: "message message-error",
          testid: `valve-zone-tripped-${zone.id}`,
          text: "Zone tripped: its valves stay closed. Reset the zone once the cause is gone, then open a valve with a reason.",
        })
      : null,
    h(
      "div",
      { class: "valve-grid" },
      (zone.valves || []).map((valve) => valveCard(zone, valve, ctx, rerender)),
    ),
  );
}

function valveCard(zone, valve, ctx, rerender) {
  const operator = ctx.can("operator");
  const state = valve.state || "unknown";
  const canOpen = Boolean(valve.open_permitted) && OPENABLE.has(state);
  const needsReset = valveNeedsReset(valve);
  const hintId = `valve-open-hint-${valve.id}`;
  const name = valve.name || valve.id;
  return h(
    "article",
    { class: `valve-card valve-${state}`, testid: `valve-card-${valve.id}`, "data-state": state },
    h("h3", { text: name }),
    h(
      "p",
      { class: "valve-state-line" },
      "State: ",
      h("span", {
        class: `badge valve-${state}`,
        testid: `valve-state-${valve.id}`,
        text: VALVE_LABEL[state] || state,
      }),
    ),
    valve.detail ? h("p", { class: "muted", testid: `valve-detail-${valve.id}`, text: valve.detail }) : null,
    valve.travel_time_s ? h("p", { class: "muted small", text: `Travel time ${valve.travel_time_s} s` }) : null,
    operator
      ? h(
          "div",
          { class: "actions" },
          h("button", {
            type: "button",
            class: "btn btn-danger",
            testid: `valve-close-${valve.id}`,
            text: "Close",
            "aria-label": `Close ${name}`,
            onclick: async () => {
              try {
                await api(`/api/v1/valves/${encodeURIComponent(valve.id)}/close`, {
                  method: "POST",
                  body: { reason: "" },
                });
                messages.set(valve.id, { ok: true, text: "Close sent." });
              } catch (err) {
                messages.set(valve.id, { ok: false, text: err instanceof ApiError ? err.detail : String(err) });
              }
              await ctx.refresh();
              rerender();
            },
          }),
          h("button", {
            type: "button",
            class: "btn btn-primary",
            testid: `valve-open-${valve.id}`,
            text: "Open…",
            "aria-label": `Open ${name}`,
            "aria-describedby": hintId,
            disabled: !canOpen,
            onclick: () => openValve(zone, valve, ctx, rerender),
          }),
          needsReset
            ? h("button", {
                type: "button",
                class: "btn",
                testid: `valve-reset-${valve.id}`,
                text: "Reset zone…",
                "aria-label": `Reset ${zone.name || zone.id} so that ${name} may be opened`,
                "aria-describedby": hintId,
                onclick: () => resetFromValve(zone, valve, ctx, rerender),
              })
            : null,
        )
      : null,
    operator
      ? h("p", {
          id: hintId,
          class: "hint",
          text: canOpen
            ? "Opening lets gas flow again: confirm the leak is fixed and the area is ventilated."
            : state === "open" || state === "opening"
              ? "The valve is open or opening."
              : needsReset
                ? zone.tripped
                  ? "Open is allowed after the zone is reset, once the cause of the trip is gone."
                  : "Closed by hand: reset the zone (it checks the gas first), then open with a reason."
                : "Open is allowed only after the zone is reset.",
        })
      : null,
    messageLine(`valve-msg-${valve.id}`, messages.get(valve.id)),
  );
}

async function resetFromValve(zone, valve, ctx, rerender) {
  const outcome = await resetZone(zone);
  if (outcome) {
    messages.set(valve.id, outcome);
    ctx.announce(outcome.text, outcome.ok ? "ok" : "alarm");
  }
  await ctx.refresh();
  rerender();
}

async function openValve(zone, valve, ctx, rerender) {
  const name = valve.name || valve.id;
  const done = await confirmWithReason({
    title: `Open ${name}?`,
    body: `Gas will flow again in ${zone.name || zone.id}. Only open after the leak is found and fixed and the area is ventilated.`,
    confirmLabel: "Open valve",
    danger: true,
    minReason: 3,
    action: (values) =>
      api(`/api/v1/valves/${encodeURIComponent(valve.id)}/open`, { method: "POST", body: { reason: values.reason } }),
  });
  if (done) {
    messages.set(valve.id, { ok: true, text: "Open sent." });
    ctx.announce(`Open sent to ${name}.`, "ok");
  }
  await ctx.refresh();
  rerender();
}
