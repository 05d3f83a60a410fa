// Words for the person on shift: things by their names rather than ids, event details as a sentence,
// component health as a list with local times. Nothing here decides anything; it only says it.

import { store } from "./store.js";
import { ALARM_STATE_LABEL, HEALTH_LABEL, LEVEL_LABEL, VALVE_LABEL, fmtNumber, fmtTime } from "./ui.js";

// ------------------------------------------------------------------ names

export function zoneName(id) {
  if (!id) return "";
  const zone = store.zones.get(id);
  return zone ? zone.name || zone.id : id;
}

export function channelName(id) {
  const found = id ? store.channel(id) : null;
  return found ? found.channel.name || id : id;
}

export function valveName(id) {
  for (const zone of store.zones.values()) {
    const valve = (zone.valves || []).find((v) => v.id === id);
    if (valve) return valve.name || id;
  }
  return id;
}

function isModelSource(level, source) {
  return level === "ML" || source === "ml";
}

/** What raised an alarm, as a name: "Above the hob", "Kitchen gas main", "Camera or gas-type model". */
export function alarmSourceName(alarm) {
  if (isModelSource(alarm.level, alarm.source)) return "Camera or gas-type model";
  if (alarm.level === "VALVE_FAULT") return valveName(alarm.source);
  if (store.channel(alarm.source)) return channelName(alarm.source);
  return valveName(alarm.source);
}

/** The same, as a phrase after the zone: "detector Above the hob", "from the camera or gas-type model". */
export function alarmSourcePhrase(alarm) {
  if (isModelSource(alarm.level, alarm.source)) return "from the camera or gas-type model";
  if (alarm.level === "VALVE_FAULT") return `valve ${valveName(alarm.source)}`;
  if (store.channel(alarm.source)) return `detector ${channelName(alarm.source)}`;
  return String(alarm.source || "");
}

/** "New alarm: Warning (A1) in Kitchen, detector Above the hob." ("New test alarm: ..." from a channel in TEST) */
export function newAlarmNotice(alarm, more = 0) {
  const level = LEVEL_LABEL[alarm.level] || alarm.level;
  const where = alarm.zoneName || zoneName(alarm.zone);
  const source = alarmSourcePhrase(alarm);
  const rest = more > 0 ? ` (and ${more} more)` : "";
  return `New ${isTestAlarm(alarm) ? "test alarm" : "alarm"}: ${level} in ${where}${source ? `, ${source}` : ""}${rest}.`;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The service's own sentences name things by id ("A2 on kitchen-ch1", "valve kitchen-valve closed"):
 * say the names people know instead. Only whole ids are replaced (kitchen-ch1 is not in kitchen-ch10).
 */
export function withNames(text) {
  let out = String(text || "");
  const names = new Map();
  for (const zone of store.zones.values()) {
    for (const ch of zone.channels || []) if (ch.name && ch.name !== ch.id) names.set(ch.id, ch.name);
    for (const v of zone.valves || []) if (v.name && v.name !== v.id) names.set(v.id, v.name);
  }
  for (const o of store.outputs.values()) if (o.name && o.name !== o.id) names.set(o.id, o.name);
  // Longest first, so an id that contains another is replaced whole.
  for (const id of [...names.keys()].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`(?<![\\w-])${escapeRegExp(id)}(?![\\w-])`, "g"), names.get(id));
  }
  return out;
}

/** An output's cause as words: "kitchen-ch1 A2" -> "Alarm (A2) on Above the range". */
export function causeText(cause) {
  const match = /^(\S+) (A1|A2|A3|ROR|FAULT|VALVE_FAULT|ML)$/.exec(String(cause || "").trim());
  if (match) return `${LEVEL_LABEL[match[2]] || match[2]} on ${alarmSourceName({ source: match[1], level: match[2] })}`;
  return withNames(cause);
}

/** Whether an alarm is a test alarm: raised while its channel is in TEST (it drives nothing). */
export function isTestAlarm(alarm) {
  if (alarm.test) return true;
  const found = alarm.source ? store.channel(alarm.source) : null;
  return Boolean(found && found.channel.test_until);
}

/** "14:32" today, "4 Dec, 14:32" another day: when a test ends. */
export function clockTime(ts) {
  const d = new Date(ts * 1000);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}

// ------------------------------------------------------------------ outputs

export const OUTPUT_KIND_LABEL = {
  sounder: "Sounder",
  beacon: "Beacon",
  fan: "Fan",
  relay: "Relay",
  fault_relay: "System-failure relay",
};

export function outputName(id) {
  const output = store.outputs.get(id);
  return output ? output.name || id : id;
}

/** What an output is doing, in words: "Sounding (pulsed)", "Energised: healthy", "Dropped: <cause>". */
export function outputStateText(output) {
  const mode = output.mode || "off";
  if (output.kind === "fault_relay") {
    if (mode !== "off") return "Energised: healthy";
    const cause = output.forced_until || /^test: /.test(output.cause || "") ? "an admin's test" : output.cause;
    return `Dropped: ${withNames(cause || "a system fault")}`;
  }
  const words = {
    sounder: { off: "Quiet", on: "Sounding (steady)", pulsed: "Sounding (pulsed)" },
    beacon: { off: "Off", on: "Flashing", pulsed: "Flashing (pulsed)" },
    fan: { off: "Stopped", on: "Running", pulsed: "Running (pulsed)" },
    relay: { off: "De-energised", on: "Energised", pulsed: "Pulsing" },
  }[output.kind] || { off: "Off", on: "On", pulsed: "Pulsed" };
  let text = words[mode] || mode;
  if (output.silenced) text = mode === "off" ? "Silenced" : `${text}, silenced`;
  return text;
}

/** The CSS tone of the state badge: alarm (sounding, dropped), ok (healthy), warn (silenced), off. */
export function outputTone(output) {
  const mode = output.mode || "off";
  if (output.kind === "fault_relay") return mode === "off" ? "alarm" : "ok";
  if (mode === "off") return output.silenced ? "warn" : "off";
  return output.silenced ? "warn" : "alarm";
}

/** What drives an output: "A2, A3 in Kitchen", or for the fault relay "any system fault". */
export function outputDrivers(output) {
  if (output.kind === "fault_relay") return "any system fault, or GasGuard stopping";
  const levels = (output.levels || []).join(", ") || "no alarm level";
  const zones = (output.zones || []).map(zoneName).join(", ") || "no zone";
  return `${levels} in ${zones}`;
}

// ------------------------------------------------------------------ events

const ALARM_STATE_WORDS = {
  unacknowledged: "raised",
  acknowledged: "acknowledged",
  returned_unacknowledged: "cleared, not yet acknowledged",
  latched: "latched until the zone is reset",
  shelved: "shelved",
  out_of_service: "out of service",
  normal: "back to normal",
};

const ACTION_WORDS = {
  ack: "Acknowledge",
  reset: "Reset",
  open: "Open",
  close: "Close",
  shelve: "Shelve",
  unshelve: "Unshelve",
  inhibit: "Take out of service",
  uninhibit: "Return to service",
  silence: "Silence",
  test_output: "Test",
  test_channel: "Put in TEST",
  end_test: "End the test of",
};

const KIND_LABEL = {
  alarm: "Alarm",
  valve: "Valve",
  valve_command: "Valve command",
  trip: "Trip",
  operator: "Operator",
  health: "Detector health",
  output: "Output",
  audit: "Audit",
};

export function eventKindLabel(kind) {
  return KIND_LABEL[kind] || humanKey(kind || "");
}

/** An operator command's target by name: a zone, a valve, a channel, an output, or an alarm id. */
function targetName(target) {
  if (!target) return "";
  if (store.zones.has(target)) return zoneName(target);
  if (store.channel(target)) return channelName(target);
  if (store.outputs.has(target)) return outputName(target);
  const parts = target.split("/");
  if (parts.length === 3) {
    const [, source, level] = parts;
    return `${LEVEL_LABEL[level] || level} on ${alarmSourceName({ level, source })}`;
  }
  return valveName(target);
}

/** The server's answer without the word that the sentence already says. */
function answer(message) {
  return String(message || "")
    .replace(/^refused:\s*/i, "")
    .replace(/^[a-z ]*accepted;\s*/i, "")
    .trim();
}

/**
 * What an event means, in one sentence. The event's reason is shown beside it and is not repeated.
 */
export function describeEvent(event) {
  const p = event.payload || {};
  switch (p.type) {
    case "AlarmChanged": {
      const level = (p.test ? "Test alarm: " : "") + (LEVEL_LABEL[p.level] || p.level);
      const state = ALARM_STATE_WORDS[p.state] || ALARM_STATE_LABEL[p.state] || p.state;
      const value = typeof p.value === "number" ? ` at ${fmtNumber(p.value)} %LEL` : "";
      const source = isModelSource(p.level, p.source)
        ? "from the camera or gas-type model"
        : `on ${alarmSourcePhrase({ level: p.level, source: p.source })}`;
      return `${level} ${source}${value}: ${state}.`;
    }
    case "ValveChanged": {
      const state = String(VALVE_LABEL[p.state] || p.state)
        .replace("…", "")
        .toLowerCase();
      return `Valve ${valveName(p.valve)} reports ${state}.`;
    }
    case "ValveCommand":
      return `GasGuard told valve ${valveName(p.valve)} to ${p.action}.`;
    case "ChannelHealthChanged":
      return `Detector ${channelName(p.channel)}: ${(HEALTH_LABEL[p.health] || p.health).toLowerCase()}.`;
    case "OutputCommand": {
      const output = store.outputs.get(p.output) || { id: p.output, kind: "" };
      const state = outputStateText({ ...output, mode: p.mode, silenced: p.silenced, cause: p.reason });
      return `${outputName(p.output)}: ${state.toLowerCase()}${p.forced ? " (an admin's test)" : ""}.`;
    }
    case "ZoneTripChanged":
      return p.tripped
        ? `${zoneName(p.zone)} tripped: its valves are closed until a reset.`
        : `${zoneName(p.zone)}: trip cleared by a reset.`;
    case "OperatorResult": {
      const verb = ACTION_WORDS[p.action] || humanKey(p.action || "");
      const said = answer(p.message);
      return `${verb} ${targetName(p.target)}: ${p.accepted ? "accepted" : "refused"}${said ? `, ${said}` : ""}.`;
    }
    default:
      break;
  }
  if (event.kind === "audit") return describeAudit(event, p);
  return listDetails(p, event);
}

function describeAudit(event, p) {
  switch (p.action) {
    case "user.create":
      return `New account, role ${p.role}.`;
    case "user.update": {
      const parts = [];
      if ("role" in p) parts.push(`role set to ${p.role}`);
      if (p.active === true) parts.push("account activated");
      if (p.active === false) parts.push("account deactivated");
      if ("password" in p) parts.push("password changed");
      const rest = listDetails(p, event, ["action", "role", "active", "password"]);
      if (rest) parts.push(rest.replace(/\.$/, ""));
      return parts.length ? `${capitalize(parts.join("; "))}.` : "Account changed.";
    }
    case "token.create": {
      const scope = p.scope ? scopeText(p.scope) : "";
      return `New device token${scope ? ` for ${scope}` : " for any channel"}.`;
    }
    case "token.revoke":
      return "Device token revoked: devices using it can no longer send readings.";
    default:
      break;
  }
  if (event.source === "auth.login") {
    const from = p.client ? ` from ${p.client}` : "";
    return p.accepted === false ? `Sign-in refused${from}.` : `Signed in${from}.`;
  }
  return listDetails(p, event);
}

function scopeText(scope) {
  const parts = [];
  for (const [key, values] of Object.entries(scope || {})) {
    if (Array.isArray(values) && values.length) parts.push(`${key} ${values.join(", ")}`);
  }
  return parts.join("; ");
}

const SKIP = new Set(["type", "reason", "detail", "user", "zone"]);

/** Whatever else the payload says, "Key: value" with readable keys and local times, reason left out. */
function listDetails(payload, event, skip = []) {
  const parts = [];
  for (const [key, value] of Object.entries(payload)) {
    if (SKIP.has(key) || skip.includes(key) || value === null || value === undefined || value === "") continue;
    if (key === "source" && value === event.source) continue;
    parts.push(`${humanKey(key)}: ${plainValue(key, value)}`);
  }
  return parts.length ? `${parts.join("; ")}.` : "";
}

// ------------------------------------------------------------------ health

export const COMPONENT_LABEL = {
  database: "Database",
  reading_writer: "Reading recorder",
  event_log: "Event log",
  notify: "Live feed",
  bus: "Live feed",
  pipeline: "Safety pipeline",
  sources: "Data sources",
  models: "Models",
  cameras: "Cameras",
  mqtt: "MQTT broker",
  notifications: "Notifications",
  outputs: "Alarm outputs",
};

export const HEALTH_STATUS_LABEL = { ok: "OK", degraded: "Degraded", down: "Down" };

const KEY_LABEL = {
  backend: "Database type",
  latency_ms: "Answer time",
  buffered: "Waiting to be written",
  capacity: "Buffer size",
  fill: "Buffer in use",
  written: "Written",
  dropped: "Dropped",
  pending: "Waiting to be written",
  subscribers: "Live viewers",
  published: "Messages sent",
  events: "Events handled",
  readings: "Readings handled",
  commands: "Valve commands",
  advisor_errors: "ML advisor errors",
  model_errors: "Model errors",
  sink_errors: "Storage or publishing errors",
  last_step_us: "Last safety step took",
  running: "Running",
  restarts: "Restarts",
  loaded: "Loaded",
  error: "Error",
  last_error: "Last error",
  last_error_at: "Last error at",
  last_success_at: "Last written at",
  last_frame_ts: "Last frame at",
  fps: "Frames per second",
  frames: "Frames",
  errors: "Errors",
  leak_score: "Leak score",
  gradcam: "Grad-CAM available",
  story_s: "Storyline time",
  scene_time_s: "Scene time",
  leak_rate_g_s: "Simulated leak rate",
  kitchen_ppm: "Kitchen gas (ppm)",
};

/** "last_error_at" -> "Last error at", using the table above where it has a better word. */
export function humanKey(key) {
  if (KEY_LABEL[key]) return KEY_LABEL[key];
  const words = String(key)
    .replace(/_(ms|us|s|g_s|ts|at)$/, (m) => (m === "_at" || m === "_ts" ? "_at" : ""))
    .replace(/_/g, " ")
    .trim();
  return capitalize(words);
}

function isTimeKey(key) {
  return /(^|_)(at|ts)$/.test(key) || key === "ts" || key === "since" || key === "until";
}

/** A value as a person reads it: local times, yes/no, "none" for nothing, units from the key. */
export function plainValue(key, value) {
  if (value === null || value === undefined || value === "") {
    return isTimeKey(key) ? "never" : "none";
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (isTimeKey(key) && value > 1e8) return fmtTime(value);
    if (key === "fill") return `${fmtNumber(value * 100, 0)} %`;
    if (key.endsWith("_ms")) return `${value} ms`;
    if (key.endsWith("_us")) return `${value} µs`;
    if (key.endsWith("_g_s")) return `${value} g/s`;
    if (key.endsWith("_s")) return `${value} s`;
    return Number.isInteger(value) ? value.toLocaleString() : String(value);
  }
  if (Array.isArray(value)) return value.length ? value.map((v) => plainValue("", v)).join(", ") : "none";
  if (typeof value === "object") {
    return Object.entries(value)
      .map(([k, v]) => `${humanKey(k)} ${plainValue(k, v)}`)
      .join(", ");
  }
  return String(value);
}

function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
