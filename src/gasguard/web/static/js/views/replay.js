// What-if replay in the admin view: an admin pastes (or loads from a file) a proposed site file and picks a
// period; the service replays the stored readings of that period through the safety core with the
// proposed settings (POST /api/v1/maintenance/replay, 202), the page polls GET /replay/{id} until it is
// done, and shows which alarms and trips the proposal would add, remove or move against what really
// happened. A refusal (bad YAML, a period in the future, more than 31 days) is the API's words, verbatim.

import { api, ApiError } from "../api.js";
import { fmtDateTime, h, labelCells, replaceContent } from "../ui.js";
import { channelName, zoneName } from "../words.js";

const POLL_MS = 1000;
const WEEK_MS = 7 * 86400 * 1000;

/** `datetime-local` value of a Date, in the browser's time. */
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** Fill `box` with the replay panel; returns the function that stops its polling. */
export function mountReplay(box) {
  let stopped = false;
  let timer = null;
  const now = new Date();
  const config = h("textarea", {
    id: "replay-config",
    name: "config",
    rows: 10,
    spellcheck: "false",
    class: "code-input",
    testid: "replay-config",
    placeholder: "sites:\n  - id: main\n    zones: ...",
  });
  const file = h("input", { id: "replay-file", type: "file", accept: ".yaml,.yml,text/yaml,text/plain", testid: "replay-file" });
  const from = h("input", { id: "replay-from", type: "datetime-local", value: localValue(new Date(now - WEEK_MS)), testid: "replay-from" });
  // Minutes only: the next whole minute, so that "to" covers up to now (the service cuts it at now).
  const to = h("input", { id: "replay-to", type: "datetime-local", value: localValue(new Date(now.getTime() + 60000)), testid: "replay-to" });
  const error = h("p", { class: "message message-error", role: "alert", testid: "replay-error" });
  error.hidden = true;
  const status = h("p", { class: "muted", role: "status", testid: "replay-status" });
  const result = h("div", { testid: "replay-result" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "replay-start", text: "Replay" });

  file.addEventListener("change", async () => {
    const chosen = file.files && file.files[0];
    if (chosen) config.value = await chosen.text();
  });

  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
    status.textContent = "";
  };

  const poll = async (jobId) => {
    if (stopped) return;
    try {
      const job = await api(`/api/v1/maintenance/replay/${encodeURIComponent(jobId)}`);
      if (stopped) return;
      if (job.status === "running") {
        timer = setTimeout(() => poll(jobId), POLL_MS);
        return;
      }
      submit.disabled = false;
      if (job.status === "failed") {
        fail(`Replay failed: ${job.error}`);
        return;
      }
      status.textContent = `Replay done: ${job.result.readings} readings in ${job.result.seconds} s.`;
      replaceContent(result, renderResult(job.result));
    } catch (err) {
      submit.disabled = false;
      fail(err instanceof ApiError ? err.detail : String(err));
    }
  };

  const form = h(
    "form",
    { class: "maint-form replay-form", testid: "replay-form", novalidate: true, "aria-labelledby": "replay-title" },
    h("label", { for: "replay-config", text: "Proposed site file (YAML)" }),
    config,
    h("label", { for: "replay-file", text: "Or load it from a file" }),
    file,
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field" }, h("label", { for: "replay-from", text: "From" }), from),
      h("div", { class: "field" }, h("label", { for: "replay-to", text: "To" }), to),
    ),
    error,
    h("div", { class: "button-row" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    clearTimeout(timer);
    replaceContent(result);
    if (!config.value.trim()) {
      fail("config: paste the proposed site file, or load it from a file.");
      config.focus();
      return;
    }
    const start = new Date(from.value);
    const end = new Date(to.value);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
      fail("from: choose both ends of the period.");
      return;
    }
    submit.disabled = true;
    status.textContent = "Starting the replay…";
    try {
      const job = await api("/api/v1/maintenance/replay", {
        method: "POST",
        body: { config: config.value, from: start.toISOString(), to: end.toISOString() },
      });
      status.textContent = `Replaying ${fmtDateTime(start.getTime() / 1000)} to ${fmtDateTime(end.getTime() / 1000)}…`;
      poll(job.id);
    } catch (err) {
      submit.disabled = false;
      // The 422's detail names what is wrong ("config: not valid YAML: ..."): shown as it is.
      fail(err instanceof ApiError ? err.detail : String(err));
    }
  });

  replaceContent(
    box,
    h(
      "section",
      { class: "panel", testid: "replay-panel", "aria-labelledby": "replay-title" },
      h("h2", { id: "replay-title", text: "What-if replay" }),
      h("p", {
        class: "hint",
        text:
          "Replays the stored readings of a period (at most 31 days) through the safety core with a proposed " +
          "site file, and compares the alarms and trips with what really happened. Nothing on the plant changes.",
      }),
      form,
      status,
      result,
    ),
  );
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

const CHANGE = {
  added: { text: "Added", tone: "health-down", hint: "would go off with the proposal, did not really" },
  removed: { text: "Removed", tone: "status-warning", hint: "really went off, would not with the proposal" },
  moved: { text: "Moved", tone: "status-warning", hint: "would go off at another time" },
};

function renderResult(r) {
  const rows = [
    ...r.added.map((o) => ({ change: "added", o, when: o.ts, shift: null })),
    ...r.removed.map((o) => ({ change: "removed", o, when: o.ts, shift: null })),
    ...r.moved.map((o) => ({ change: "moved", o, when: o.real_ts, shift: o.shift_s })),
  ].sort((a, b) => a.when - b.when);
  const s = r.summary || {};
  const line = (kind, words) => {
    const k = s[kind] || {};
    return `${words}: ${k.real ?? 0} real, ${k.replayed ?? 0} replayed; ${k.same ?? 0} the same, ${k.added ?? 0} added, ${k.removed ?? 0} removed, ${k.moved ?? 0} moved.`;
  };
  return [
    h("p", { testid: "replay-summary-trips", text: line("trip", "Trips") }),
    h("p", { testid: "replay-summary-alarms", text: line("alarm", "Alarms") }),
    rows.length === 0
      ? h("p", { class: "empty", testid: "replay-no-change", text: "No alarm or trip would change." })
      : labelCells(
          h(
            "table",
            { class: "data", testid: "replay-changes" },
            h(
              "thead",
              {},
              h("tr", {}, ["Change", "What", "Zone", "When (really)", "With the proposal"].map((t) => h("th", { scope: "col", text: t }))),
            ),
            h(
              "tbody",
              {},
              rows.map(({ change, o, when, shift }) =>
                h(
                  "tr",
                  { testid: "replay-change", "data-change": change, "data-kind": o.kind },
                  h("td", {}, h("span", { class: `badge ${CHANGE[change].tone}`, title: CHANGE[change].hint, text: CHANGE[change].text })),
                  h("td", { text: o.kind === "trip" ? `Trip of ${zoneName(o.key)}` : alarmName(o.key) }),
                  h("td", { text: zoneName(o.zone) }),
                  h("td", { class: "nowrap", text: change === "added" ? "—" : fmtDateTime(when) }),
                  h("td", { text: proposal(change, o, shift) }),
                ),
              ),
            ),
          ),
        ),
    r.skipped && r.skipped.length
      ? h("p", {
          class: "muted",
          testid: "replay-skipped",
          text: `${r.skipped.length} real trip(s) not from readings (a cold start, a valve closed by hand) are not compared.`,
        })
      : null,
  ];
}

/** "A2 on Near the floor" for the alarm id "kitchen/kitchen-ch2/A2" (an id of another shape as it is). */
function alarmName(alarmId) {
  const parts = String(alarmId).split("/");
  if (parts.length !== 3) return `Alarm ${alarmId}`;
  return `${parts[2]} on ${channelName(parts[1])}`;
}

function proposal(change, o, shift) {
  if (change === "added") return `at ${fmtDateTime(o.ts)}`;
  if (change === "removed") return "does not happen";
  const sign = shift >= 0 ? "later" : "earlier";
  return `${Math.abs(shift).toFixed(1)} s ${sign}, at ${fmtDateTime(o.replay_ts)}`;
}
