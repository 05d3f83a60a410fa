// One modal dialog for every action that needs a confirmation and a reason (open a valve, shelve an
// alarm, revoke a token...). The action runs inside the dialog, so a refusal is shown right there.

import { ApiError } from "./api.js";
import { h } from "./ui.js";

/**
 * Ask for confirmation and a reason, then run `action(values)`.
 * @param {object} options
 * @param {string} options.title
 * @param {string} [options.body] explanation shown above the fields
 * @param {string} options.confirmLabel text of the confirming button
 * @param {boolean} [options.danger] style the confirming button as dangerous
 * @param {number} [options.minReason] minimum reason length (0: reason optional)
 * @param {Array<object>} [options.fields] extra fields: {name, label, type, value, min, max, options}
 * @param {(values: object) => Promise<string|void>} options.action throws ApiError on refusal
 * @returns {Promise<boolean>} whether the action was carried out
 */
export function confirmWithReason(options) {
  const dialog = document.getElementById("dialog");
  const { title, body, confirmLabel, danger = false, minReason = 3, fields = [], action } = options;
  return new Promise((resolve) => {
    const reason = h("textarea", {
      id: "dialog-reason",
      name: "reason",
      rows: 3,
      maxlength: "500",
      required: minReason > 0,
      minlength: minReason > 0 ? String(minReason) : null,
      testid: "dialog-reason",
      "aria-describedby": "dialog-reason-hint",
    });
    const extra = fields.map((field) => fieldRow(field));
    const error = h("p", { id: "dialog-error", class: "message message-error", role: "alert", testid: "dialog-error" });
    error.hidden = true;
    const cancel = h("button", { type: "button", class: "btn", testid: "dialog-cancel", text: "Cancel" });
    const ok = h("button", {
      type: "submit",
      class: danger ? "btn btn-danger" : "btn btn-primary",
      testid: "dialog-confirm",
      text: confirmLabel,
    });
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form", novalidate: true },
      h("h2", { id: "dialog-title", testid: "dialog-title", text: title }),
      body ? h("p", { class: "dialog-body", testid: "dialog-body", text: body }) : null,
      extra,
      h("label", { for: "dialog-reason", text: minReason > 0 ? "Reason (required)" : "Reason (optional)" }),
      reason,
      h("p", {
        id: "dialog-reason-hint",
        class: "hint",
        text: minReason > 0 ? `At least ${minReason} characters. Stored in the audit log.` : "Stored in the audit log.",
      }),
      error,
      h("div", { class: "dialog-buttons" }, cancel, ok),
    );
    dialog.replaceChildren(form);
    dialog.setAttribute("aria-labelledby", "dialog-title");

    let busy = false;
    const finish = (done) => {
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(done);
    };
    const onCancel = (event) => {
      if (busy) event.preventDefault();
      else {
        event.preventDefault();
        finish(false);
      }
    };
    dialog.addEventListener("cancel", onCancel);
    cancel.addEventListener("click", () => !busy && finish(false));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (text.length < minReason) {
        showError(error, `Give a reason of at least ${minReason} characters.`);
        reason.focus();
        return;
      }
      const values = { reason: text };
      for (const field of fields) {
        const input = form.querySelector(`[name="${field.name}"]`);
        values[field.name] = field.type === "number" ? Number(input.value) : input.value;
      }
      busy = true;
      ok.disabled = true;
      cancel.disabled = true;
      error.hidden = true;
      try {
        await action(values);
        finish(true);
      } catch (err) {
        showError(error, err instanceof ApiError ? err.detail : String(err));
        busy = false;
        ok.disabled = false;
        cancel.disabled = false;
      }
    });
    dialog.showModal();
    (form.querySelector("input, select") || reason).focus();
  });
}

function fieldRow(field) {
  const id = `dialog-field-${field.name}`;
  let input;
  if (field.options) {
    input = h(
      "select",
      { id, name: field.name, testid: `dialog-${field.name}` },
      field.options.map((opt) => h("option", { value: opt.value, selected: opt.value === field.value, text: opt.label })),
    );
  } else {
    input = h("input", {
      id,
      name: field.name,
      type: field.type || "text",
      value: field.value ?? "",
      min: field.min ?? null,
      max: field.max ?? null,
      required: true,
      testid: `dialog-${field.name}`,
    });
  }
  return [h("label", { for: id, text: field.label }), input];
}

function showError(el, text) {
  el.textContent = text;
  el.hidden = false;
}
