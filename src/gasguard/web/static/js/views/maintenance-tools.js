// Maintenance tools under the read-only picture on the Health screen: for operators, forms that record a
// calibration, a bump test, a valve stroke test or a zone proof test done with a kit, and guided tests
// measured by GasGuard (bump, stroke and proof: start, the running ones, end); for everyone, a drift
// chart per detector (daily clean-air zero, its fitted trend, the tolerance band) drawn with the vendored
// uPlot, the weekly alarm-performance figures, and the auditor's report (PDF, or a zip of CSVs).

import { api, ApiError, query } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { store } from "../store.js";
import { downloadBlob, fmtDateTime, h, replaceContent } from "../ui.js";
import { weeklyKpis } from "./maintenance-kpis.js";

const TESTS_INTERVAL_MS = 5000;
const DRIFT_DAYS = [
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
  { value: "180", label: "Last 180 days" },
  { value: "365", label: "Last year" },
];

/** The configured detectors, "Zone — Detector", for the selects. */
function channelOptions() {
  return [...store.zones.values()].flatMap((z) =>
    (z.channels || []).map((c) => ({
      value: c.id,
      label: `${z.name || z.id} — ${c.name || c.id}`,
      gas: c.gas,
      zone: z.id,
    })),
  );
}

/** The configured valves, "Zone — Valve". */
function valveOptions() {
  return [...store.zones.values()].flatMap((z) =>
    (z.valves || []).map((v) => ({ value: v.id, label: `${z.name || z.id} — ${v.name || v.id}` })),
  );
}

/** The configured zones. */
function zoneOptions() {
  return [...store.zones.values()].map((z) => ({ value: z.id, label: z.name || z.id }));
}

/** A detector that may be left open: "any detector of the zone" first. */
function anyChannelOptions() {
  return [{ value: "", label: "Any detector of the zone" }, ...channelOptions()];
}

/**
 * Fill `box` with the tools; `ctx` says the role and announces outcomes and `onRecorded` reloads the
 * maintenance picture. Returns the function that stops it.
 */
export function mountMaintenanceTools(box, ctx, onRecorded) {
  const stops = [];
  const parts = [];
  if (ctx && ctx.can("operator")) {
    const tests = guidedTests(ctx, onRecorded);
    stops.push(tests.stop);
    parts.push(recordForms(ctx, onRecorded), tests.el);
  }
  const drift = driftChart();
  const kpis = weeklyKpis();
  stops.push(drift.stop, kpis.stop);
  parts.push(drift.el, kpis.el, reportLinks());
  replaceContent(box, parts);
  return () => stops.forEach((stop) => stop());
}

// ------------------------------------------------------------------ record forms (operators)

const CALIBRATION_FIELDS = [
  { name: "gas", label: "Test gas", type: "text", required: true },
  { name: "concentration", label: "Span gas concentration (channel unit)", type: "number", required: true },
  { name: "as_found_zero", label: "As-found zero (optional)", type: "number" },
  { name: "as_found_span", label: "As-found span (optional)", type: "number" },
  { name: "as_left_zero", label: "As-left zero", type: "number", required: true },
  { name: "as_left_span", label: "As-left span", type: "number", required: true },
  { name: "instrument", label: "Kit or cylinder lot (optional)", type: "text" },
  { name: "note", label: "Note (optional)", type: "text" },
];

const BUMP_FIELDS = [
  { name: "gas", label: "Test gas", type: "text", required: true },
  { name: "applied_lel_pct", label: "Gas applied (%LEL)", type: "number", required: true },
  { name: "peak_lel_pct", label: "Highest reading (%LEL)", type: "number", required: true },
  { name: "t50_s", label: "T50 in seconds (optional)", type: "number" },
  { name: "t90_s", label: "T90 in seconds (optional)", type: "number" },
  { name: "note", label: "Note (optional)", type: "text" },
];

const STROKE_FIELDS = [
  { name: "close_s", label: "Close time in seconds", type: "number", required: true },
  { name: "open_s", label: "Open time in seconds (optional)", type: "number" },
  { name: "note", label: "Note (optional)", type: "text" },
];

const PROOF_FIELDS = [
  { name: "channel", label: "Detector the gas was applied to", type: "select", options: anyChannelOptions },
  { name: "gas", label: "Test gas (optional)", type: "text" },
  { name: "alarm_s", label: "Seconds from gas to the first alarm (optional)", type: "number" },
  { name: "trip_s", label: "Seconds from gas to the trip (optional)", type: "number" },
  { name: "closed_s", label: "Seconds from gas to valves closed (optional)", type: "number" },
  { name: "note", label: "Note (optional)", type: "text" },
];

const DETECTOR = { name: "channel", label: "Detector", options: channelOptions };

function recordForms(ctx, onRecorded) {
  const forms = [
    recordForm({
      key: "calibration",
      title: "Record a calibration",
      path: "/api/v1/maintenance/calibrations",
      target: DETECTOR,
      fields: CALIBRATION_FIELDS,
      done: "Calibration recorded",
      ctx,
      onRecorded,
    }),
    recordForm({
      key: "bump",
      title: "Record a bump test",
      path: "/api/v1/maintenance/bump-tests",
      target: DETECTOR,
      fields: BUMP_FIELDS,
      done: "Bump test recorded",
      ctx,
      onRecorded,
    }),
    recordForm({
      key: "stroke",
      title: "Record a valve stroke test",
      path: "/api/v1/maintenance/stroke-tests",
      target: { name: "valve", label: "Valve", options: valveOptions },
      fields: STROKE_FIELDS,
      done: "Stroke test recorded",
      ctx,
      onRecorded,
    }),
    recordForm({
      key: "proof",
      title: "Record a zone proof test",
      path: "/api/v1/maintenance/proof-tests",
      target: { name: "zone", label: "Zone", options: zoneOptions },
      fields: PROOF_FIELDS,
      done: "Proof test recorded",
      ctx,
      onRecorded,
    }),
  ];
  const open = (which) => {
    for (const form of forms) form.el.hidden = form !== which;
    which.focus();
  };
  const labels = {
    calibration: "Record calibration…",
    bump: "Record bump test…",
    stroke: "Record stroke test…",
    proof: "Record proof test…",
  };
  return h(
    "section",
    { class: "maint-tools", testid: "maintenance-record-tools", "aria-labelledby": "maint-record-title" },
    h("h3", { id: "maint-record-title", text: "Record work done with a kit" }),
    h(
      "div",
      { class: "button-row" },
      forms.map((form) =>
        h("button", {
          type: "button",
          class: "btn",
          testid: `maintenance-record-${form.key}`,
          text: labels[form.key],
          onclick: () => open(form),
        }),
      ),
    ),
    forms.map((form) => form.el),
  );
}

function selectOf(id, name, testid, options) {
  return h(
    "select",
    { id, name, testid },
    options.map((o) => h("option", { value: o.value, text: o.label })),
  );
}

function recordForm({ key, title, path, target, fields, done, ctx, onRecorded }) {
  const prefix = `maint-${key}`;
  const targets = target.options();
  const channel = selectOf(`${prefix}-${target.name}`, target.name, `${prefix}-${target.name}`, targets);
  const inputs = fields.map((f) =>
    f.type === "select"
      ? selectOf(`${prefix}-${f.name}`, f.name, `${prefix}-${f.name}`, f.options())
      : h("input", {
          id: `${prefix}-${f.name}`,
          name: f.name,
          type: f.type,
          step: f.type === "number" ? "any" : null,
          inputmode: f.type === "number" ? "decimal" : null,
          value: f.name === "gas" && target === DETECTOR ? targets[0]?.gas || "methane" : "",
          testid: `${prefix}-${f.name}`,
        }),
  );
  channel.addEventListener("change", () => {
    const gas = inputs[fields.findIndex((f) => f.name === "gas")];
    const chosen = targets.find((c) => c.value === channel.value);
    if (target === DETECTOR && gas && chosen && chosen.gas) gas.value = chosen.gas;
  });
  const error = h("p", { class: "message message-error", role: "alert", testid: `${prefix}-error` });
  error.hidden = true;
  const submit = h("button", { type: "submit", class: "btn btn-primary", testid: `${prefix}-submit`, text: "Record" });
  const cancel = h("button", { type: "button", class: "btn", testid: `${prefix}-cancel`, text: "Cancel" });
  const form = h(
    "form",
    { class: "maint-form", testid: `${prefix}-form`, novalidate: true, "aria-labelledby": `${prefix}-title` },
    h("h4", { id: `${prefix}-title`, text: title }),
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: channel.id, text: target.label }), channel),
      fields.map((f, i) => h("div", { class: "field" }, h("label", { for: inputs[i].id, text: f.label }), inputs[i])),
    ),
    error,
    h("div", { class: "button-row" }, submit, cancel),
  );
  form.hidden = true;
  cancel.addEventListener("click", () => {
    form.hidden = true;
    error.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { [target.name]: channel.value };
    for (const [i, f] of fields.entries()) {
      const raw = inputs[i].value.trim();
      if (raw === "") {
        if (f.required) {
          showError(error, `${f.name}: give a value (${f.label}).`);
          inputs[i].focus();
          return;
        }
        continue;
      }
      body[f.name] = f.type === "number" ? Number(raw) : raw;
    }
    submit.disabled = true;
    error.hidden = true;
    try {
      const record = await api(path, { method: "POST", body });
      form.hidden = true;
      for (const [i, f] of fields.entries()) if (f.name !== "gas" && f.type !== "select") inputs[i].value = "";
      ctx.announce(`${done}: ${record.passed ? "passed" : "failed"}.`, record.passed ? "ok" : "alarm");
      onRecorded();
    } catch (err) {
      // The 422's detail names the field at fault ("as_left_span: 120 ppm is outside ..."): shown here.
      showError(error, err instanceof ApiError ? err.detail : String(err));
    } finally {
      submit.disabled = false;
    }
  });
  return { key, el: form, focus: () => channel.focus() };
}

// ------------------------------------------------------------------ guided tests (operators)

function guidedTests(ctx, onRecorded) {
  let stopped = false;
  let timer = null;
  const list = h("div", { testid: "maintenance-tests" }, h("p", { class: "muted", text: "Loading…" }));
  const load = async () => {
    clearTimeout(timer);
    try {
      const tests = await api("/api/v1/maintenance/tests");
      if (stopped) return;
      replaceContent(list, runningList(tests.active || [], ctx, load, onRecorded));
    } catch (err) {
      if (stopped) return;
      replaceContent(
        list,
        h("p", {
          class: "message message-error",
          role: "alert",
          testid: "maintenance-tests-error",
          text: `Guided tests unavailable: ${err instanceof ApiError ? err.detail : err}`,
        }),
      );
    }
    if (!stopped) timer = setTimeout(load, TESTS_INTERVAL_MS);
  };
  const start = async () => {
    const channels = channelOptions();
    let started = null;
    await confirmWithReason({
      title: "Start a bump test?",
      body:
        "The detector goes into TEST: its alarms become test alarms that drive nothing, while the zone's other " +
        "detectors keep protecting. Apply the test gas, then end the test here; GasGuard measures the response.",
      confirmLabel: "Start bump test",
      fields: [
        { name: "channel", label: "Detector", options: channels, value: channels[0]?.value },
        { name: "applied_lel_pct", label: "Test gas concentration (%LEL)", type: "number", value: 50, min: 1, max: 100 },
        { name: "minutes", label: "Longest TEST time (minutes, at most 30)", type: "number", value: 10, min: 1, max: 30 },
      ],
      action: async (values) => {
        started = await api("/api/v1/maintenance/tests/bump", {
          method: "POST",
          body: {
            channel: values.channel,
            applied_lel_pct: values.applied_lel_pct,
            minutes: values.minutes,
            reason: values.reason,
          },
        });
      },
    });
    if (started) {
      ctx.announce(`Bump test of ${nameOf(started.target)} started: apply the test gas now.`, "ok");
      load();
    }
  };
  const startStroke = async () => {
    const valves = valveOptions();
    let started = null;
    await confirmWithReason({
      title: "Start a stroke test?",
      body:
        "GasGuard closes the valve now (an audited close) and times it from closing to closed. To time the " +
        "opening too, reset the zone and open the valve within 30 minutes; the record is made then, or at " +
        "30 minutes with the close only.",
      confirmLabel: "Close and time it",
      fields: [{ name: "valve", label: "Valve", options: valves, value: valves[0]?.value }],
      action: async (values) => {
        started = await api("/api/v1/maintenance/tests/stroke", {
          method: "POST",
          body: { valve: values.valve, reason: values.reason },
        });
      },
    });
    if (started) {
      ctx.announce(`Stroke test of ${testTarget(started)} started: the valve is closing.`, "ok");
      load();
    }
  };
  const startProof = async () => {
    const zones = zoneOptions();
    let started = null;
    await confirmWithReason({
      title: "Start a proof test?",
      body:
        "The zone stays in normal service. Apply gas to a detector: the trip is real, its valves close and " +
        "people are told. GasGuard times the first alarm, the trip and every valve closing. Reset and reopen " +
        "afterwards as after any trip.",
      confirmLabel: "Start proof test",
      danger: true,
      fields: [
        { name: "zone", label: "Zone", options: zones, value: zones[0]?.value },
        { name: "channel", label: "Detector the gas goes to", options: anyChannelOptions(), value: "" },
      ],
      action: async (values) => {
        started = await api("/api/v1/maintenance/tests/proof", {
          method: "POST",
          body: { zone: values.zone, channel: values.channel || null, reason: values.reason },
        });
      },
    });
    if (started) {
      ctx.announce(`Proof test of ${testTarget(started)} started: apply the test gas now.`, "ok");
      load();
    }
  };
  const startButton = (testid, text, onclick) => h("button", { type: "button", class: "btn btn-primary", testid, text, onclick });
  const el = h(
    "section",
    { class: "maint-tools", testid: "maintenance-guided", "aria-labelledby": "maint-guided-title" },
    h("h3", { id: "maint-guided-title", text: "Guided tests, measured by GasGuard" }),
    h(
      "div",
      { class: "button-row" },
      startButton("maintenance-start-bump", "Start bump test…", start),
      valveOptions().length ? startButton("maintenance-start-stroke", "Start stroke test…", startStroke) : null,
      startButton("maintenance-start-proof", "Start proof test…", startProof),
    ),
    list,
  );
  load();
  return {
    el,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function nameOf(channelId) {
  const found = channelOptions().find((c) => c.value === channelId);
  return found ? found.label : channelId;
}

const TEST_KIND = {
  bump: "Bump test",
  calibration: "Calibration",
  stroke: "Stroke test",
  proof_test: "Proof test",
};

/** What a guided test is about, in words: a detector, a valve or a zone. */
function testTarget(test) {
  const among = test.kind === "stroke" ? valveOptions() : test.kind === "proof_test" ? zoneOptions() : channelOptions();
  const found = among.find((o) => o.value === test.target);
  return found ? found.label : test.target;
}

/** Where a running test stands, in one line. */
function testProgress(t) {
  const marks = t.marks || {};
  if (t.kind === "stroke") {
    if (typeof marks.closed === "number" && typeof marks.closing === "number") {
      return `Closed in ${(marks.closed - marks.closing).toFixed(1)} s. Reset the zone and open the valve to time the opening, or end the test.`;
    }
    return "Waiting for the valve to report closed.";
  }
  if (t.kind === "proof_test") {
    const seen = Object.keys(t.alarms || {}).sort();
    const parts = [seen.length ? `Alarms seen: ${seen.join(", ")}` : "No alarm yet"];
    parts.push(typeof marks.trip === "number" ? `tripped at ${fmtDateTime(marks.trip)}` : "not tripped yet");
    return `${parts.join("; ")}; ${t.samples} readings.`;
  }
  const peak = t.result && typeof t.result.peak_lel_pct === "number" ? `, peak ${t.result.peak_lel_pct} %LEL` : "";
  return `${t.active ? "In TEST" : "Waiting for the safety core"}, ${t.samples} readings${peak}.`;
}

function runningList(active, ctx, reload, onRecorded) {
  if (active.length === 0) {
    return h("p", { class: "empty", testid: "maintenance-tests-empty", text: "No guided test is running." });
  }
  return h(
    "ul",
    { class: "test-list" },
    active.map((t) => {
      const error = h("p", { class: "message message-error", role: "alert" });
      error.hidden = true;
      const end = h("button", {
        type: "button",
        class: "btn",
        testid: `maintenance-test-end-${t.id}`,
        text: "End",
        "aria-label": `End the ${(TEST_KIND[t.kind] || "test").toLowerCase()} of ${testTarget(t)}`,
      });
      end.addEventListener("click", async () => {
        end.disabled = true;
        try {
          await api(`/api/v1/maintenance/tests/${encodeURIComponent(t.id)}/end`, {
            method: "POST",
            body: { reason: "test done" },
          });
          ctx.announce(`${TEST_KIND[t.kind] || "Test"} of ${testTarget(t)} ended; its record is stored.`, "ok");
          reload();
          onRecorded();
        } catch (err) {
          showError(error, err instanceof ApiError ? err.detail : String(err));
          end.disabled = false;
        }
      });
      const restarted = (t.restarts || []).length
        ? " Taken over after a restart of the service; readings while it was down were not seen."
        : "";
      return h(
        "li",
        { class: "test-item", testid: "maintenance-test", "data-kind": t.kind },
        h(
          "div",
          {},
          h("strong", { text: `${TEST_KIND[t.kind] || t.kind} of ${testTarget(t)}` }),
          h("p", {
            class: "muted small",
            testid: "maintenance-test-progress",
            text:
              `Started ${fmtDateTime(t.started_at)} by ${t.user}; ends by ${fmtDateTime(t.deadline)}. ` +
              `${testProgress(t)}${restarted}`,
          }),
          error,
        ),
        end,
      );
    }),
  );
}

// ------------------------------------------------------------------ drift chart (everyone)

function driftChart() {
  let chart = null;
  const channels = channelOptions();
  const channel = h(
    "select",
    { id: "maint-drift-channel", testid: "maintenance-drift-channel" },
    channels.map((c) => h("option", { value: c.value, text: c.label })),
  );
  const days = h(
    "select",
    { id: "maint-drift-days", testid: "maintenance-drift-days" },
    DRIFT_DAYS.map((d) => h("option", { value: d.value, selected: d.value === "90", text: d.label })),
  );
  const status = h("p", { class: "muted", role: "status", testid: "maintenance-drift-status" });
  const box = h("div", { class: "chart-box", testid: "maintenance-drift-chart" });
  const load = async (event) => {
    event?.preventDefault();
    if (!channel.value) return;
    status.textContent = "Loading…";
    try {
      const body = await api(
        `/api/v1/maintenance/drift/${encodeURIComponent(channel.value)}${query({ days: days.value })}`,
      );
      if (chart) chart.destroy();
      chart = null;
      box.replaceChildren();
      const style = getComputedStyle(box);
      const width = Math.max(260, Math.floor(box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)));
      chart = drawDrift(box, body, width);
      status.textContent = driftSummary(body);
    } catch (err) {
      status.textContent = `Drift unavailable: ${err instanceof ApiError ? err.detail : err}`;
    }
  };
  const el = h(
    "section",
    { class: "maint-tools", testid: "maintenance-drift-tools", "aria-labelledby": "maint-drift-title" },
    h("h3", { id: "maint-drift-title", text: "Zero drift per detector" }),
    channels.length
      ? h(
          "form",
          { class: "filters", onsubmit: load },
          h("label", { for: "maint-drift-channel", text: "Detector" }),
          channel,
          h("label", { for: "maint-drift-days", text: "Period" }),
          days,
          h("button", { type: "submit", class: "btn btn-primary", testid: "maintenance-drift-show", text: "Show" }),
        )
      : h("p", { class: "empty", text: "No detectors configured." }),
    status,
    box,
  );
  if (channels.length) setTimeout(load, 0); // after the box is in the page, so its width is known
  return {
    el,
    stop: () => {
      if (chart) chart.destroy();
      chart = null;
    },
  };
}

function driftSummary(body) {
  const zero = body.zero || {};
  const fit = zero.fit;
  const parts = [
    `${(zero.points || []).length} daily clean-air zeros (${zero.buckets_clean ?? 0} of ${zero.buckets_total ?? 0} buckets clean).`,
    fit
      ? `Trend ${fit.per_month >= 0 ? "+" : ""}${fit.per_month} %LEL per month` +
        (fit.days_to_tolerance === null ? "." : `; out of tolerance in about ${fit.days_to_tolerance} days.`)
      : "Too few clean days for a trend yet.",
    `Tolerance ±${zero.tolerance_lel_pct} %LEL.`,
  ];
  if (body.warnings && body.warnings.length) parts.push(body.warnings.join(" "));
  return parts.join(" ");
}

function drawDrift(box, body, width) {
  const uPlot = window.uPlot;
  if (!uPlot) {
    box.textContent = "Chart library failed to load.";
    return null;
  }
  const zero = body.zero || {};
  const tol = Number(zero.tolerance_lel_pct) || 0;
  const points = zero.points || [];
  const fit = zero.fit;
  const byTs = new Map(points.map((p) => [p.ts, p.zero_lel_pct]));
  const xs = [...new Set([body.from, body.to, ...points.map((p) => p.ts)])].sort((a, b) => a - b);
  const line = (ts) =>
    fit ? fit.at_start + ((fit.at_end - fit.at_start) * (ts - body.from)) / Math.max(1, body.to - body.from) : null;
  const data = [
    xs,
    xs.map((ts) => (byTs.has(ts) ? byTs.get(ts) : null)),
    xs.map((ts) => line(ts)),
    xs.map(() => tol),
    xs.map(() => -tol),
  ];
  box.dataset.points = String(points.length);
  box.dataset.fit = fit ? "yes" : "no";
  const axis = { stroke: "#c9d1d9", grid: { stroke: "#2d3640" }, ticks: { stroke: "#2d3640" } };
  return new uPlot(
    {
      width,
      height: 260,
      title: `${nameOf(body.channel)}: clean-air zero (%LEL)`,
      series: [
        {},
        {
          label: "Zero (%LEL)",
          stroke: "#4fc3f7",
          width: 0,
          points: { show: true, size: 7, fill: "#4fc3f7" },
        },
        { label: "Trend", stroke: "#ffb74d", width: 2, spanGaps: true },
        { label: "Tolerance", stroke: "#e0665f", width: 1, dash: [4, 4] },
        { label: "−Tolerance", stroke: "#e0665f", width: 1, dash: [4, 4] },
      ],
      bands: [{ series: [3, 4], fill: "rgba(102, 187, 106, 0.12)" }],
      scales: { y: { range: (_u, min, max) => [Math.min(min ?? 0, -tol * 1.3), Math.max(max ?? 0, tol * 1.3)] } },
      axes: [axis, { ...axis, label: "%LEL" }],
    },
    data,
    box,
  );
}

// ------------------------------------------------------------------ report (everyone)

function dayValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function reportLinks() {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 30 * 86400 * 1000);
  const from = h("input", { id: "maint-report-from", type: "date", value: dayValue(monthAgo), testid: "maintenance-report-from" });
  const to = h("input", { id: "maint-report-to", type: "date", value: dayValue(today), testid: "maintenance-report-to" });
  const status = h("p", { class: "message", role: "status", testid: "maintenance-report-status" });
  status.hidden = true;
  const download = async (format, button) => {
    const start = from.value ? new Date(`${from.value}T00:00:00`) : null;
    const endDay = to.value ? new Date(`${to.value}T00:00:00`) : null;
    if (!start || !endDay || Number.isNaN(start.getTime()) || Number.isNaN(endDay.getTime())) {
      setStatus(status, false, "Choose both days of the period.");
      return;
    }
    // The end day counts whole, up to now when it is today.
    const end = new Date(Math.min(endDay.getTime() + 86400 * 1000, Date.now()));
    button.disabled = true;
    setStatus(status, true, "Preparing the report…");
    try {
      const response = await api(
        `/api/v1/maintenance/report${query({ from: start.toISOString(), to: end.toISOString(), format })}`,
        { raw: true },
      );
      const disposition = response.headers.get("Content-Disposition") || "";
      const named = /filename="([^"]+)"/.exec(disposition);
      const filename = named ? named[1] : `gasguard-maintenance.${format === "pdf" ? "pdf" : "zip"}`;
      downloadBlob(await response.blob(), filename);
      setStatus(status, true, `Downloaded ${filename}.`);
    } catch (err) {
      setStatus(status, false, `Report refused: ${err instanceof ApiError ? err.detail : err}`);
    } finally {
      button.disabled = false;
    }
  };
  const pdf = h("button", { type: "button", class: "btn", testid: "maintenance-report-pdf", text: "Download PDF" });
  const csv = h("button", { type: "button", class: "btn", testid: "maintenance-report-csv", text: "Download CSV (zip)" });
  pdf.addEventListener("click", () => download("pdf", pdf));
  csv.addEventListener("click", () => download("csv", csv));
  return h(
    "section",
    { class: "maint-tools", testid: "maintenance-report", "aria-labelledby": "maint-report-title" },
    h("h3", { id: "maint-report-title", text: "Report for an auditor" }),
    h("p", { class: "hint", text: "Records, what was due, proof tests, trips with their timelines and alarm KPIs." }),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "maint-report-from", text: "From" }),
      from,
      h("label", { for: "maint-report-to", text: "To" }),
      to,
      pdf,
      csv,
    ),
    status,
  );
}

function setStatus(el, ok, text) {
  el.textContent = text;
  el.classList.toggle("message-error", !ok);
  el.hidden = false;
}

function showError(el, text) {
  el.textContent = text;
  el.hidden = false;
}
