// Health: every component (pipeline, sources, models, cameras, database, broker) and the loaded models.

import { api } from "../api.js";
import { h, replaceContent } from "../ui.js";

const REFRESH_MS = 10000;

export const healthView = {
  id: "health",
  title: "Health",
  mount(root) {
    let timer = null;
    let stopped = false;
    const load = async () => {
      clearTimeout(timer);
      let health;
      let models = null;
      try {
        health = await api("/api/v1/health", { accept: [503] });
      } catch (err) {
        health = { error: err.detail || String(err) };
      }
      try {
        models = await api("/api/v1/models");
      } catch {
        models = null; // no live runtime: the component list still says so
      }
      if (stopped) return;
      replaceContent(
        root,
        h(
          "div",
          { class: "panel-head" },
          h("h1", { text: "Health" }),
          h("button", { type: "button", class: "btn", testid: "health-refresh", text: "Refresh", onclick: load }),
        ),
        healthPanel(health),
        models ? modelsPanel(models) : null,
      );
      timer = setTimeout(load, REFRESH_MS);
    };
    replaceContent(root, h("h1", { text: "Health" }), h("p", { class: "muted", text: "Loading…" }));
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};

function healthPanel(health) {
  if (health.error) return h("p", { class: "message message-error", role: "alert", text: health.error });
  const components = Object.entries(health.components || {});
  return h(
    "section",
    { class: "panel", "aria-labelledby": "health-title" },
    h(
      "h2",
      { id: "health-title" },
      "Overall: ",
      h("span", { class: `badge health-${health.status}`, testid: "health-overall", text: String(health.status).toUpperCase() }),
    ),
    h(
      "table",
      { class: "data", testid: "health-table" },
      h("thead", {}, h("tr", {}, ["Component", "Status", "Details"].map((t) => h("th", { scope: "col", text: t })))),
      h(
        "tbody",
        {},
        components.map(([name, c]) =>
          h(
            "tr",
            { testid: `health-row-${name}` },
            h("th", { scope: "row", text: name }),
            h("td", {}, h("span", { class: `badge health-${c.status}`, text: c.status })),
            h("td", { class: "details", text: describe(c.detail || {}) }),
          ),
        ),
      ),
    ),
  );
}

function describe(detail) {
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`)
    .join("; ");
}

function modelsPanel(models) {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "models-title" },
    h("h2", { id: "models-title", text: "Models" }),
    models.length === 0
      ? h("p", { class: "empty", text: "No models loaded." })
      : h(
          "table",
          { class: "data", testid: "models-table" },
          h("thead", {}, h("tr", {}, ["Name", "Kind", "Version", "Loaded", "Error"].map((t) => h("th", { scope: "col", text: t })))),
          h(
            "tbody",
            {},
            models.map((m) =>
              h(
                "tr",
                {},
                h("th", { scope: "row", text: m.name }),
                h("td", { text: m.kind }),
                h("td", { text: m.version }),
                h("td", {}, h("span", { class: `badge health-${m.loaded ? "ok" : "down"}`, text: m.loaded ? "yes" : "no" })),
                h("td", { text: m.error || "" }),
              ),
            ),
          ),
        ),
  );
}
