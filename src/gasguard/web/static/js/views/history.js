// History: stored readings of one channel over a chosen range, drawn with uPlot (value, min and max
// per downsampled bucket).

import { api, query } from "../api.js";
import { store } from "../store.js";
import { h, replaceContent } from "../ui.js";

const RANGES = [
  { value: "900", label: "Last 15 minutes" },
  { value: "3600", label: "Last hour" },
  { value: "21600", label: "Last 6 hours" },
  { value: "86400", label: "Last 24 hours" },
  { value: "604800", label: "Last 7 days" },
  { value: "custom", label: "Custom range" },
];

let chosen = { channel: null, range: "3600", start: "", end: "" };

export const historyView = {
  id: "history",
  title: "History",
  mount(root) {
    let chart = null;
    const channels = [...store.zones.values()].flatMap((z) =>
      (z.channels || []).map((c) => ({ id: c.id, label: `${z.name || z.id} — ${c.name || c.id}`, unit: c.unit })),
    );
    if (!chosen.channel || !channels.some((c) => c.id === chosen.channel)) chosen.channel = channels[0]?.id ?? null;

    const chartBox = h("div", { class: "chart-box", testid: "history-chart" });
    const status = h("p", { class: "muted", role: "status", testid: "history-status" });
    const channelSelect = h(
      "select",
      { id: "history-channel", testid: "history-channel" },
      channels.map((c) => h("option", { value: c.id, selected: c.id === chosen.channel, text: c.label })),
    );
    const rangeSelect = h(
      "select",
      { id: "history-range", testid: "history-range" },
      RANGES.map((r) => h("option", { value: r.value, selected: r.value === chosen.range, text: r.label })),
    );
    const start = h("input", {
      id: "history-start",
      type: "datetime-local",
      value: chosen.start,
      testid: "history-start",
    });
    const end = h("input", { id: "history-end", type: "datetime-local", value: chosen.end, testid: "history-end" });
    const custom = h(
      "div",
      { class: "custom-range" },
      h("label", { for: "history-start", text: "From" }),
      start,
      h("label", { for: "history-end", text: "To" }),
      end,
    );
    custom.hidden = chosen.range !== "custom";
    rangeSelect.addEventListener("change", () => {
      custom.hidden = rangeSelect.value !== "custom";
    });

    const load = async (event) => {
      event?.preventDefault();
      chosen = { channel: channelSelect.value, range: rangeSelect.value, start: start.value, end: end.value };
      const info = channels.find((c) => c.id === chosen.channel);
      if (!info) return;
      let from;
      let to;
      if (chosen.range === "custom") {
        from = start.value ? new Date(start.value).getTime() / 1000 : NaN;
        to = end.value ? new Date(end.value).getTime() / 1000 : Date.now() / 1000;
        if (!Number.isFinite(from) || !(to > from)) {
          status.textContent = "Choose a start time before the end time.";
          return;
        }
      } else {
        to = Date.now() / 1000;
        from = to - Number(chosen.range);
      }
      status.textContent = "Loading…";
      try {
        // The box's inner width (less its padding), so the chart never scrolls sideways on a phone.
        const style = getComputedStyle(chartBox);
        const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        const width = Math.max(280, Math.floor((chartBox.clientWidth || 800) - padding));
        const body = await api(
          `/api/v1/readings${query({ channel: info.id, start: from, end: to, max_points: Math.min(2000, width) })}`,
        );
        const points = body.points || [];
        if (chart) chart.destroy();
        chart = null;
        chartBox.replaceChildren();
        if (points.length === 0) {
          status.textContent = "No readings in this range.";
          chartBox.dataset.points = "0";
          return;
        }
        status.textContent = `${points.length} points.`;
        chartBox.dataset.points = String(points.length);
        chart = drawChart(chartBox, points, info, width);
      } catch (err) {
        status.textContent = `Could not load history: ${err.detail || err}`;
      }
    };

    const form = h(
      "form",
      { class: "filters", onsubmit: load },
      h("label", { for: "history-channel", text: "Channel" }),
      channelSelect,
      h("label", { for: "history-range", text: "Range" }),
      rangeSelect,
      custom,
      h("button", { type: "submit", class: "btn btn-primary", testid: "history-load", text: "Show" }),
    );
    replaceContent(
      root,
      h("h1", { text: "History" }),
      channels.length ? form : h("p", { class: "empty", text: "No channels configured." }),
      status,
      chartBox,
    );
    if (channels.length) load();
    return () => {
      if (chart) chart.destroy();
    };
  },
};

function drawChart(box, points, info, width) {
  const uPlot = window.uPlot;
  const unit = info.unit === "lel_pct" ? "%LEL" : info.unit;
  const xs = points.map((p) => p.ts);
  const data = [
    xs,
    points.map((p) => p.value),
    points.map((p) => p.min ?? p.value),
    points.map((p) => p.max ?? p.value),
  ];
  if (!uPlot) {
    box.textContent = "Chart library failed to load.";
    return null;
  }
  const axis = { stroke: "#c9d1d9", grid: { stroke: "#2d3640" }, ticks: { stroke: "#2d3640" } };
  return new uPlot(
    {
      width,
      height: 320,
      title: `${info.label} (${unit})`,
      series: [
        {},
        { label: `Value (${unit})`, stroke: "#4fc3f7", width: 2 },
        { label: "Min", stroke: "#7e8b97", width: 1, dash: [4, 4] },
        { label: "Max", stroke: "#ffb74d", width: 1, dash: [4, 4] },
      ],
      axes: [axis, { ...axis, label: unit }],
    },
    data,
    box,
  );
}
