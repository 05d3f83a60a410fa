// A tiny SVG sparkline of %LEL with the trip setpoint drawn as a dashed line.

import { svg } from "./ui.js";

const WIDTH = 120;
const HEIGHT = 32;

/**
 * Create a sparkline. The y axis runs from 0 to at least the A2 (trip) setpoint, so a flat line near
 * the bottom reads as "far from trip" at a glance.
 */
export function createSparkline(label, testid) {
  const root = svg("svg", {
    class: "sparkline",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: "img",
    "aria-label": label,
    "data-testid": testid,
    preserveAspectRatio: "none",
  });
  root.append(svg("line", { class: "spark-trip", x1: 0, x2: WIDTH, y1: 0, y2: 0, visibility: "hidden" }));
  root.append(svg("polyline", { class: "spark-line", points: "", fill: "none" }));
  return root;
}

/** Redraw with [[ts, %LEL], ...]; `trip` is the A2 setpoint in %LEL (or null). */
export function drawSparkline(root, points, trip) {
  const line = root.querySelector(".spark-line");
  const tripLine = root.querySelector(".spark-trip");
  const top = Math.max(trip || 0, ...points.map((p) => p[1]), 1) * 1.1;
  const y = (v) => (HEIGHT - 1 - (Math.max(0, v) / top) * (HEIGHT - 2)).toFixed(1);
  if (trip) {
    tripLine.setAttribute("y1", y(trip));
    tripLine.setAttribute("y2", y(trip));
    tripLine.setAttribute("visibility", "visible");
  }
  if (points.length === 0) {
    line.setAttribute("points", "");
    root.dataset.points = "0";
    return;
  }
  const t0 = points[0][0];
  const span = Math.max(points[points.length - 1][0] - t0, 1);
  const coords = points.map(([ts, v]) =>
    points.length === 1 ? `0,${y(v)} ${WIDTH},${y(v)}` : `${(((ts - t0) / span) * WIDTH).toFixed(1)},${y(v)}`,
  );
  line.setAttribute("points", coords.join(" "));
  root.dataset.points = String(points.length);
}
