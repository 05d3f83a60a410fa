// DOM helpers and formatting shared by the views. Text always goes in through textContent, never HTML,
// so names and reasons typed by people cannot inject markup.

/**
 * Build an element: h("button", {class: "btn", onclick: fn, dataset: {testid: "x"}}, "Label").
 * Attributes with value false/null/undefined are left out; `true` sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key in el && typeof value !== "string" && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** SVG element with attributes. */
export function svg(tag, attrs = {}) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/**
 * Replace a container's content, keeping keyboard focus on the "same" control afterwards
 * (matched by data-testid), so a live update never throws a keyboard user back to the page top.
 */
export function replaceContent(container, ...children) {
  const active = document.activeElement;
  const focusKey = active && container.contains(active) ? active.dataset.testid || active.id : null;
  container.replaceChildren();
  append(container, children);
  if (focusKey) {
    const again =
      container.querySelector(`[data-testid="${CSS.escape(focusKey)}"]`) ||
      container.querySelector(`#${CSS.escape(focusKey)}`);
    if (again && !again.disabled) again.focus();
  }
}

export function fmtTime(ts) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

export function fmtDateTime(ts) {
  if (ts === null || ts === undefined) return "—";
  return new Date(ts * 1000).toLocaleString();
}

/**
 * Give every cell of a data table the heading of its column (`data-label`), so that on a narrow
 * screen, where the stylesheet turns each row into a card, each value still says what it is.
 */
export function labelCells(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) labelRow(row, heads);
  table.classList.add("cards");
  return table;
}

/** Label one row's cells, e.g. a row appended after `labelCells` ran. */
export function labelRow(row, heads) {
  [...row.children].forEach((cell, i) => {
    if (heads[i] && !cell.hasAttribute("colspan")) cell.dataset.label = heads[i];
  });
  return row;
}

export function fmtNumber(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  return Number(value).toFixed(digits);
}

export function fmtAgo(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export const STATUS_LABEL = {
  normal: "Normal",
  warning: "Warning",
  alarm: "Alarm",
  fault: "Fault",
  tripped: "Tripped",
};

export const HEALTH_LABEL = {
  ok: "OK",
  warming_up: "Warming up",
  stale: "Stale",
  out_of_range: "Out of range",
  over_range: "Over range (gas above the sensor's span)",
  invalid: "Invalid value",
  flatline: "Flat-lined",
};

export const VALVE_LABEL = {
  open: "Open",
  closing: "Closing…",
  closed: "Closed",
  opening: "Opening…",
  fault: "Fault",
  unknown: "Unknown",
};

export const ALARM_STATE_LABEL = {
  unacknowledged: "Unacknowledged",
  acknowledged: "Acknowledged",
  returned_unacknowledged: "Cleared, unacknowledged",
  latched: "Latched (reset needed)",
  shelved: "Shelved",
  out_of_service: "Out of service",
  normal: "Normal",
};

export const LEVEL_LABEL = {
  A3: "High alarm (A3)",
  A2: "Alarm (A2)",
  A1: "Warning (A1)",
  ROR: "Rate of rise",
  FAULT: "Sensor fault",
  VALVE_FAULT: "Valve fault",
  ML: "Early warning (ML/camera)",
};

/** Which CSS level class a %LEL value gets against a channel's setpoints. */
export function lelLevel(lel, setpoints) {
  if (lel === null || lel === undefined || !setpoints) return "none";
  if (lel >= setpoints.a3) return "a3";
  if (lel >= setpoints.a2) return "a2";
  if (lel >= setpoints.a1) return "a1";
  return "ok";
}

export function gasLabel(gas) {
  if (!gas) return "—";
  return gas.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

/** Start a browser download of a Blob under `filename`. */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A status line whose text screen readers announce politely. */
export function messageLine(testid, message) {
  const el = h("p", { class: "message", role: "status", "aria-live": "polite", testid });
  setMessage(el, message);
  return el;
}

export function setMessage(el, message) {
  el.textContent = message ? message.text : "";
  el.classList.toggle("message-error", Boolean(message && !message.ok));
  el.classList.toggle("message-ok", Boolean(message && message.ok));
  el.hidden = !message;
}
