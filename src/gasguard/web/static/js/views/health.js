// Health: every component (pipeline, sources, models, cameras, database, broker) as a readable list,
// times in local time, and the loaded models. Below them, maintenance: what is due, records and drift
// (maintenance.js), loaded once per visit rather than with every health refresh.

import { api } from "../api.js";
import { fmtTime, h, labelCells, replaceContent } from "../ui.js";
import { COMPONENT_LABEL, HEALTH_STATUS_LABEL, humanKey, plainValue } from "../words.js";
import { mountMaintenance } from "./maintenance.js";

const REFRESH_MS = 10000;

export const healthView = {
  id: "health",
  title: "Health",
  mount(root, ctx) {
    let timer = null;
    let stopped = false;
    const healthBox = h("div", {});
    const maintenanceBox = h("section", {
      class: "panel",
      testid: "maintenance-panel",
      "aria-labelledby": "maintenance-title",
    });
    root.replaceChildren(healthBox, maintenanceBox);
    const stopMaintenance = mountMaintenance(maintenanceBox, ctx);
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
        healthBox,
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
    replaceContent(healthBox, h("h1", { text: "Health" }), h("p", { class: "muted", text: "Loading…" }));
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      stopMaintenance();
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
      h("span", {
        class: `badge health-${health.status}`,
        testid: "health-overall",
        text: HEALTH_STATUS_LABEL[health.status] || String(health.status),
      }),
    ),
    h("p", {
      class: "hint",
      text: `Checked at ${fmtTime(Date.now() / 1000)}; refreshed every ${REFRESH_MS / 1000} s.`,
    }),
    h(
      "div",
      { class: "health-grid", testid: "health-table" },
      components.map(([name, c]) => componentCard(name, c)),
    ),
  );
}

/** One component: its name, its state in a word, and what it reports as a list (local times, no JSON). */
function componentCard(name, component) {
  const detail = component.detail;
  const titleId = `health-title-${name}`;
  return h(
    "article",
    { class: "health-card", testid: `health-row-${name}`, "aria-labelledby": titleId },
    h(
      "header",
      { class: "zone-head" },
      h("h3", { id: titleId, text: COMPONENT_LABEL[name] || humanKey(name) }),
      h("span", {
        class: `badge health-${component.status}`,
        text: HEALTH_STATUS_LABEL[component.status] || component.status,
      }),
    ),
    detailList(detail),
  );
}

function detailList(detail) {
  if (detail === null || detail === undefined || detail === "") return null;
  if (typeof detail !== "object" || Array.isArray(detail))
    return h("p", { class: "muted", text: plainValue("", detail) });
  if (Object.keys(detail).length === 0) return h("p", { class: "muted", text: "Nothing to report." });
  const plain = Object.entries(detail).filter(([, v]) => v === null || typeof v !== "object" || Array.isArray(v));
  const nested = Object.entries(detail).filter(([, v]) => v !== null && typeof v === "object" && !Array.isArray(v));
  return [
    plain.length
      ? h(
          "dl",
          { class: "facts" },
          plain.map(([k, v]) => [h("dt", { text: humanKey(k) }), h("dd", { text: plainValue(k, v) })]),
        )
      : null,
    // Per source, model or camera: its own short list under its name.
    nested.map(([k, v]) => h("section", { class: "facts-group" }, h("h4", { text: k }), detailList(v))),
  ];
}

function modelsPanel(models) {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "models-title" },
    h("h2", { id: "models-title", text: "Models" }),
    models.length === 0
      ? h("p", { class: "empty", text: "No models loaded." })
      : labelCells(
          h(
            "table",
            { class: "data", testid: "models-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Name", "Kind", "Version", "Loaded", "Error"].map((t) => h("th", { scope: "col", text: t })),
              ),
            ),
            h(
              "tbody",
              {},
              models.map((m) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row", text: m.name }),
                  h("td", { text: humanKey(m.kind || "") }),
                  h("td", { text: m.version }),
                  h(
                    "td",
                    {},
                    h("span", { class: `badge health-${m.loaded ? "ok" : "down"}`, text: m.loaded ? "Yes" : "No" }),
                  ),
                  h("td", { text: m.error || "none" }),
                ),
              ),
            ),
          ),
        ),
  );
}
