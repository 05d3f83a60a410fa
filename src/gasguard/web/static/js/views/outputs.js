// Alarm outputs on the "Valves and outputs" screen: sounders, beacons, fans, relays and the
// system-failure relay. Each says what drives it, what it is doing and why. Operators silence a
// sounding sounder (the alarms stay unacknowledged); admins test an output for a few minutes, with a
// reason. The safety core decides; a refusal (409) is shown as it says it. Redrawn on every "output"
// message of the live feed (app.js fetches GET /api/v1/outputs again then).

import { api, ApiError } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { store } from "../store.js";
import { h, messageLine, replaceContent } from "../ui.js";
import { OUTPUT_KIND_LABEL, causeText, clockTime, outputDrivers, outputStateText, outputTone } from "../words.js";

/** Last outcome per output, kept across redraws so the person can read it. */
const messages = new Map();

/** Fill `box` with the outputs and keep it current; returns the function that stops it. */
export function mountOutputs(box, ctx) {
  messages.clear();
  const render = () => replaceContent(box, renderOutputs(ctx, render));
  render();
  if (!store.outputsLoaded) ctx.refreshOutputs();
  return store.on("outputs", render);
}

function renderOutputs(ctx, rerender) {
  const outputs = [...store.outputs.values()];
  return [
    h("h2", { id: "outputs-title", text: "Outputs" }),
    h("p", {
      class: "hint",
      text: "Sounders, beacons, fans and relays follow the alarms by themselves. Silence stops a sounder until the next alarm; it acknowledges no alarm.",
    }),
    store.outputsError
      ? h("p", { class: "message message-error", role: "alert", testid: "outputs-error", text: `Outputs unavailable: ${store.outputsError}` })
      : null,
    !store.outputsLoaded && !store.outputsError
      ? h("p", { class: "muted", testid: "outputs-loading", text: "Loading…" })
      : store.outputsLoaded && outputs.length === 0
        ? h("p", { class: "empty", testid: "outputs-empty", text: "No outputs configured." })
        : h("div", { class: "valve-grid" }, outputs.map((output) => outputCard(output, ctx, rerender))),
  ];
}

function outputCard(output, ctx, rerender) {
  const name = output.name || output.id;
  const tone = outputTone(output);
  const sounding = output.kind === "sounder" && output.mode !== "off" && !output.silenced && !output.forced_until;
  return h(
    "article",
    {
      class: `valve-card output-card output-${tone}`,
      testid: `output-card-${output.id}`,
      "data-mode": output.mode || "off",
      "data-kind": output.kind,
    },
    h("h3", {}, name, " ", h("span", { class: "muted small-inline", text: OUTPUT_KIND_LABEL[output.kind] || output.kind })),
    h(
      "p",
      { class: "valve-state-line" },
      h("span", { class: `badge output-${tone}`, testid: `output-state-${output.id}`, text: outputStateText(output) }),
      output.forced_until
        ? h("span", {
            class: "badge test-badge",
            testid: `output-test-${output.id}`,
            text: `Test until ${clockTime(output.forced_until)}`,
          })
        : null,
      output.latched ? h("span", { class: "badge", testid: `output-latched-${output.id}`, text: "Latched until reset" }) : null,
      output.reachable === false
        ? h("span", { class: "badge health-stale", testid: `output-unreachable-${output.id}`, text: "Cannot reach the device" })
        : null,
    ),
    h("p", { class: "output-drivers", testid: `output-drivers-${output.id}`, text: `Driven by ${outputDrivers(output)}` }),
    output.cause && output.kind !== "fault_relay" && output.mode !== "off"
      ? h("p", { class: "muted", testid: `output-cause-${output.id}`, text: `Why: ${causeText(output.cause)}` })
      : null,
    h("p", { class: "muted small", testid: `output-driver-${output.id}`, text: driverText(output) }),
    h(
      "div",
      { class: "actions" },
      ctx.can("operator") && sounding
        ? h("button", {
            type: "button",
            class: "btn btn-primary",
            testid: `output-silence-${output.id}`,
            text: "Silence",
            "aria-label": `Silence ${name}`,
            onclick: () => silence(output, ctx, rerender),
          })
        : null,
      ctx.can("admin")
        ? h("button", {
            type: "button",
            class: "btn",
            testid: `output-test-button-${output.id}`,
            text: "Test…",
            "aria-label": `Test ${name}`,
            onclick: () => testOutput(output, ctx, rerender),
          })
        : null,
    ),
    messageLine(`output-msg-${output.id}`, messages.get(output.id)),
  );
}

function driverText(output) {
  const driver = { simulated: "Simulated", modbus: "Modbus", mqtt: "MQTT" }[output.driver] || output.driver || "—";
  const feedback =
    output.feedback === null || output.feedback === undefined
      ? "no feedback"
      : output.feedback
        ? "the device reports energised"
        : "the device reports not energised";
  return `Driver: ${driver}; ${feedback}.`;
}

async function silence(output, ctx, rerender) {
  const name = output.name || output.id;
  try {
    await api(`/api/v1/outputs/${encodeURIComponent(output.id)}/silence`, { method: "POST", body: { reason: "" } });
    messages.set(output.id, { ok: true, text: `${name} silenced until the next alarm. The alarms still need acknowledging.` });
    ctx.announce(`${name} silenced.`, "ok");
  } catch (err) {
    const text = err instanceof ApiError ? err.detail : String(err);
    messages.set(output.id, { ok: false, text: `Silence refused: ${text.replace(/^refused:\s*/i, "")}` });
  }
  await ctx.refreshOutputs();
  rerender();
}

async function testOutput(output, ctx, rerender) {
  const name = output.name || output.id;
  const what =
    output.kind === "fault_relay"
      ? "The relay drops as if GasGuard had failed: whatever it is wired to (a fault lamp, the building's alarm panel) will react."
      : `${name} goes to its alarm state as if its zone were in alarm: people nearby will hear or see it.`;
  const done = await confirmWithReason({
    title: `Test ${name}?`,
    body: `${what} The test ends by itself; only an admin may test, and it is audited.`,
    confirmLabel: "Start test",
    fields: [{ name: "minutes", label: "For how many minutes (1-10)", type: "number", value: 2, min: 1, max: 10 }],
    action: (values) =>
      api(`/api/v1/outputs/${encodeURIComponent(output.id)}/test`, {
        method: "POST",
        body: { reason: values.reason, minutes: values.minutes },
      }),
  });
  if (done) {
    messages.set(output.id, { ok: true, text: `Test of ${name} started.` });
    ctx.announce(`Test of ${name} started.`, "ok");
    await ctx.refreshOutputs();
    rerender();
  }
}
