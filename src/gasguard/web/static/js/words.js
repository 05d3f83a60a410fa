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

/** "New alarm: Warning (A1) in Kitchen, detector Above the hob." */
export function newAlarmNotice(alarm, more = 0) {
  const level = LEVEL_LABEL[alarm.level] || alarm.level;
  const where = alarm.zoneName || zoneName(alarm.zone);
  const source = alarmSourcePhrase(alarm);
  const rest = more > 0 ? ` (and ${more} more)` : "";
  return `New alarm: ${level} in ${where}${source ? `, ${source}` : ""}${rest}.`;
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
};

const KIND_LABEL = {
  alarm: "Alarm",
  valve: "Valve",
  valve_command: "Valve command",
  trip: "Trip",
  operator: "Operator",
  health: "Detector health",
  audit: "Audit",
};

export function eventKindLabel(kind) {
  return KIND_LABEL[kind] || humanKey(kind || "");
}

/** An operator command's target by name: a zone, a valve, a channel, or an alarm id zone/source/LEVEL. */
function targetName(target) {
  if (!target) return "";
  if (store.zones.has(target)) return zoneName(target);
  if (store.channel(target)) return channelName(target);
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
      const level = LEVEL_LABEL[p.level] || p.level;
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
