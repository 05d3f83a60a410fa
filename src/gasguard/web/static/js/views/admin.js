// Administration (admins only): people and their roles, and device tokens for ingestion (every change
// asks for a reason, which the server stores in the audit log); below them, the what-if replay of a
// proposed site file (replay.js).

import { api, ApiError, query } from "../api.js";
import { confirmWithReason } from "../dialog.js";
import { fmtDateTime, h, labelCells, messageLine, replaceContent } from "../ui.js";
import { mountReplay } from "./replay.js";

const ROLES = ["viewer", "operator", "admin"];

export const adminView = {
  id: "admin",
  title: "Users and tokens",
  minRole: "admin",
  mount(root, ctx) {
    const state = { users: [], tokens: [], message: null, issued: null, includeRevoked: false };
    // Users and tokens are drawn again after every change; the replay panel below keeps its own state.
    const people = h("div", {});
    const replay = h("div", { class: "replay-box" });
    root.replaceChildren(people, replay);
    const render = () => replaceContent(people, renderAdmin(ctx, state, load));
    const load = async () => {
      try {
        [state.users, state.tokens] = await Promise.all([
          api("/api/v1/users"),
          api(`/api/v1/tokens${query({ include_revoked: state.includeRevoked || undefined })}`),
        ]);
      } catch (err) {
        state.message = { ok: false, text: err instanceof ApiError ? err.detail : String(err) };
      }
      render();
    };
    replaceContent(people, h("h1", { text: "Users and tokens" }), h("p", { class: "muted", text: "Loading…" }));
    load();
    return mountReplay(replay);
  },
};

function renderAdmin(ctx, state, reload) {
  const done = (text) => {
    state.message = { ok: true, text };
    return reload();
  };
  return [
    h("h1", { text: "Users and tokens" }),
    messageLine("admin-msg", state.message),
    state.issued
      ? h(
          "div",
          { class: "panel issued", role: "alert", testid: "token-issued" },
          h("p", { text: `Token for ${state.issued.name}. Copy it now: it is shown only once.` }),
          h("code", { class: "token", testid: "token-value", text: state.issued.token }),
          h("button", {
            type: "button",
            class: "btn",
            text: "Done",
            onclick: () => {
              state.issued = null;
              reload();
            },
          }),
        )
      : null,
    usersPanel(ctx, state, done),
    tokensPanel(state, done, reload),
  ];
}

function usersPanel(ctx, state, done) {
  const username = h("input", {
    id: "new-user-name",
    required: true,
    minlength: "2",
    maxlength: "64",
    autocomplete: "off",
    testid: "new-user-name",
  });
  const password = h("input", {
    id: "new-user-password",
    type: "password",
    required: true,
    autocomplete: "new-password",
    testid: "new-user-password",
  });
  const role = h(
    "select",
    { id: "new-user-role", testid: "new-user-role" },
    ROLES.map((r) => h("option", { value: r, text: r })),
  );
  const create = async (event) => {
    event.preventDefault();
    await confirmWithReason({
      title: `Create ${role.value} ${username.value}?`,
      confirmLabel: "Create user",
      action: (values) =>
        api("/api/v1/users", {
          method: "POST",
          body: { username: username.value.trim(), password: password.value, role: role.value, reason: values.reason },
        }),
    }).then((ok) => ok && done(`User ${username.value.trim()} created.`));
  };
  return h(
    "section",
    { class: "panel", "aria-labelledby": "users-title" },
    h("h2", { id: "users-title", text: "Users" }),
    labelCells(
      h(
        "table",
        { class: "data", testid: "users-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["User", "Role", "Active", "Created", "Change"].map((t) => h("th", { scope: "col", text: t })),
          ),
        ),
        h(
          "tbody",
          {},
          state.users.map((u) => {
            const select = h(
              "select",
              {
                id: `user-role-${u.username}`,
                testid: `user-role-${u.username}`,
                "aria-label": `Role of ${u.username}`,
              },
              ROLES.map((r) => h("option", { value: r, selected: r === u.role, text: r })),
            );
            select.addEventListener("change", async () => {
              const ok = await confirmWithReason({
                title: `Make ${u.username} ${select.value}?`,
                confirmLabel: "Change role",
                action: (values) => patchUser(u.username, { role: select.value, reason: values.reason }),
              });
              if (ok) done(`${u.username} is now ${select.value}.`);
              else select.value = u.role;
            });
            return h(
              "tr",
              { testid: `user-row-${u.username}` },
              h("th", { scope: "row", text: u.username + (u.username === ctx.username ? " (you)" : "") }),
              h("td", {}, select),
              h("td", { text: u.active ? "yes" : "no" }),
              h("td", { text: fmtDateTime(u.created_at) }),
              h(
                "td",
                {},
                h("button", {
                  type: "button",
                  class: u.active ? "btn btn-danger" : "btn",
                  testid: `user-toggle-${u.username}`,
                  text: u.active ? "Deactivate" : "Activate",
                  onclick: async () => {
                    const ok = await confirmWithReason({
                      title: `${u.active ? "Deactivate" : "Activate"} ${u.username}?`,
                      body: u.active ? "Their sessions stop working at once." : "",
                      confirmLabel: u.active ? "Deactivate" : "Activate",
                      danger: u.active,
                      action: (values) => patchUser(u.username, { active: !u.active, reason: values.reason }),
                    });
                    if (ok) done(`${u.username} ${u.active ? "deactivated" : "activated"}.`);
                  },
                }),
              ),
            );
          }),
        ),
      ),
    ),
    h(
      "form",
      { class: "filters", onsubmit: create, "aria-labelledby": "new-user-title" },
      h("h3", { id: "new-user-title", text: "New user" }),
      h("label", { for: "new-user-name", text: "Username" }),
      username,
      h("label", { for: "new-user-password", text: "Password" }),
      password,
      h("label", { for: "new-user-role", text: "Role" }),
      role,
      h("button", { type: "submit", class: "btn btn-primary", testid: "new-user-submit", text: "Create…" }),
    ),
  );
}

function patchUser(username, body) {
  return api(`/api/v1/users/${encodeURIComponent(username)}`, { method: "PATCH", body });
}

function tokensPanel(state, done, reload) {
  const name = h("input", {
    id: "new-token-name",
    required: true,
    maxlength: "64",
    autocomplete: "off",
    testid: "new-token-name",
  });
  const create = async (event) => {
    event.preventDefault();
    let issued = null;
    const ok = await confirmWithReason({
      title: `Create device token ${name.value.trim()}?`,
      confirmLabel: "Create token",
      action: async (values) => {
        issued = await api("/api/v1/tokens", {
          method: "POST",
          body: { name: name.value.trim(), reason: values.reason },
        });
      },
    });
    if (ok && issued) {
      state.issued = issued;
      done(`Token ${issued.name} created.`);
    }
  };
  const revoked = h("input", {
    id: "tokens-include-revoked",
    type: "checkbox",
    checked: state.includeRevoked,
    testid: "tokens-include-revoked",
  });
  revoked.addEventListener("change", () => {
    state.includeRevoked = revoked.checked;
    reload();
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "tokens-title" },
    h("h2", { id: "tokens-title", text: "Device tokens" }),
    h(
      "p",
      { class: "check-row" },
      revoked,
      " ",
      h("label", { for: "tokens-include-revoked", text: "Show revoked tokens" }),
    ),
    labelCells(
      h(
        "table",
        { class: "data", testid: "tokens-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Name", "Created", "Last used", "Revoked", ""].map((t) => h("th", { scope: "col", text: t })),
          ),
        ),
        h(
          "tbody",
          {},
          state.tokens.length === 0
            ? h("tr", {}, h("td", { colspan: "5", class: "empty", text: "No device tokens." }))
            : null,
          state.tokens.map((t) =>
            h(
              "tr",
              { testid: `token-row-${t.name}` },
              h("th", { scope: "row", text: t.name }),
              h("td", { text: fmtDateTime(t.created_at) }),
              h("td", { text: t.last_used_at ? fmtDateTime(t.last_used_at) : "never" }),
              h("td", { text: t.revoked_at ? fmtDateTime(t.revoked_at) : "" }),
              h(
                "td",
                {},
                t.revoked_at
                  ? null
                  : h("button", {
                      type: "button",
                      class: "btn btn-danger",
                      testid: `token-revoke-${t.name}`,
                      text: "Revoke…",
                      "aria-label": `Revoke token ${t.name}`,
                      onclick: async () => {
                        const ok = await confirmWithReason({
                          title: `Revoke token ${t.name}?`,
                          body: "Devices using it can no longer send readings.",
                          confirmLabel: "Revoke",
                          danger: true,
                          action: (values) =>
                            api(`/api/v1/tokens/${t.id}${query({ reason: values.reason })}`, { method: "DELETE" }),
                        });
                        if (ok) done(`Token ${t.name} revoked.`);
                      },
                    }),
              ),
            ),
          ),
        ),
      ),
    ),
    h(
      "form",
      { class: "filters", onsubmit: create, "aria-labelledby": "new-token-title" },
      h("h3", { id: "new-token-title", text: "New device token" }),
      h("label", { for: "new-token-name", text: "Name" }),
      name,
      h("button", { type: "submit", class: "btn btn-primary", testid: "new-token-submit", text: "Create…" }),
    ),
  );
}
