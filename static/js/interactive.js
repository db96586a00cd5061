/* The interactive-message dialog: reply buttons (up to 3), a list (its button label, sections and
 * rows, 10 rows in all) or a link button, with the same limits the API enforces and a preview
 * of what the customer will see. The dialog stays open until the server accepted the send, so a
 * refused one keeps what was filled in, with the reason. */

import { newKey, submit } from "./composer.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

const LIMITS = { header: 60, body: 1024, footer: 60, button: 20, section: 24, row: 24, description: 72 };
const MAX_BUTTONS = 3;
const MAX_ROWS = 10;
const MAX_SECTIONS = 10;

let draft = null; // {type, header, body, footer, buttons: [title], label, sections: [{title, rows: [{title, description}]}], cta: {title, url}}
let sendKey = null;

function emptyDraft() {
  return { type: "button", header: "", body: "", footer: "", buttons: [""], label: "", sections: [{ title: "", rows: [{ title: "", description: "" }] }], cta: { title: "", url: "" } };
}

function input(value, max, label, onInput, type = "text") {
  const node = el("input");
  node.type = type;
  node.value = value;
  if (max) node.maxLength = max;
  node.setAttribute("aria-label", label);
  node.placeholder = label;
  node.addEventListener("input", () => {
    sendKey = null;
    onInput(node.value);
    renderPreview();
  });
  return node;
}

function small(text, onClick, label) {
  const button = el("button", "btn btn-ghost btn-small", text);
  button.type = "button";
  if (label) button.setAttribute("aria-label", label);
  button.addEventListener("click", () => {
    sendKey = null;
    onClick();
    renderFields();
  });
  return button;
}

function totalRows() {
  return draft.sections.reduce((sum, section) => sum + section.rows.length, 0);
}

function renderFields() {
  const box = $("interactive-fields");
  box.replaceChildren();
  if (draft.type === "button") {
    const fieldset = el("fieldset");
    fieldset.appendChild(el("legend", "", `Reply buttons (up to ${MAX_BUTTONS}, ${LIMITS.button} characters each)`));
    draft.buttons.forEach((title, index) => {
      const row = el("div", "dialog-row");
      row.appendChild(input(title, LIMITS.button, `Button ${index + 1}`, (value) => (draft.buttons[index] = value)));
      if (draft.buttons.length > 1) row.appendChild(small("×", () => draft.buttons.splice(index, 1), `Remove button ${index + 1}`));
      fieldset.appendChild(row);
    });
    if (draft.buttons.length < MAX_BUTTONS) fieldset.appendChild(small("+ Button", () => draft.buttons.push("")));
    box.appendChild(fieldset);
  } else if (draft.type === "list") {
    box.appendChild(input(draft.label, LIMITS.button, "List button label (required)", (value) => (draft.label = value)));
    draft.sections.forEach((section, s) => {
      const fieldset = el("fieldset");
      fieldset.appendChild(el("legend", "", `Section ${s + 1}`));
      fieldset.appendChild(input(section.title, LIMITS.section, draft.sections.length > 1 ? `Section ${s + 1} title` : "Section title (optional)", (value) => (section.title = value)));
      section.rows.forEach((row, r) => {
        const line = el("div", "dialog-row");
        line.appendChild(input(row.title, LIMITS.row, `Row ${s + 1}.${r + 1}`, (value) => (row.title = value)));
        line.appendChild(input(row.description, LIMITS.description, `Row ${s + 1}.${r + 1} description`, (value) => (row.description = value)));
        if (section.rows.length > 1) line.appendChild(small("×", () => section.rows.splice(r, 1), `Remove row ${s + 1}.${r + 1}`));
        fieldset.appendChild(line);
      });
      if (totalRows() < MAX_ROWS) fieldset.appendChild(small("+ Row", () => section.rows.push({ title: "", description: "" })));
      if (draft.sections.length > 1) fieldset.appendChild(small("Remove section", () => draft.sections.splice(s, 1)));
      box.appendChild(fieldset);
    });
    if (draft.sections.length < MAX_SECTIONS && totalRows() < MAX_ROWS) box.appendChild(small("+ Section", () => draft.sections.push({ title: "", rows: [{ title: "", description: "" }] })));
    box.appendChild(el("p", "muted", `${totalRows()} of ${MAX_ROWS} rows`));
  } else {
    const row = el("div", "dialog-row");
    row.appendChild(input(draft.cta.title, LIMITS.button, "Button title", (value) => (draft.cta.title = value)));
    row.appendChild(input(draft.cta.url, 2000, "Link (https://…)", (value) => (draft.cta.url = value), "url"));
    box.appendChild(row);
  }
  renderPreview();
}

/** The request's `interactive` object, as the API takes it. */
function interactiveBody() {
  const body = { type: draft.type, body: { text: draft.body } };
  if (draft.header.trim()) body.header = { type: "text", text: draft.header };
  if (draft.footer.trim()) body.footer = { text: draft.footer };
  if (draft.type === "button") body.action = { buttons: draft.buttons.map((title) => ({ id: title.trim(), title })) };
  else if (draft.type === "list") {
    body.action = {
      buttons: [{ title: draft.label }],
      sections: draft.sections.map((section) => {
        const rows = section.rows.map((row) => Object.assign({ id: row.title.trim(), title: row.title }, row.description.trim() ? { description: row.description } : {}));
        return Object.assign(section.title.trim() ? { title: section.title } : {}, { rows });
      }),
    };
  } else body.action = { buttons: [{ title: draft.cta.title, cta_url: draft.cta.url.trim() }] };
  return body;
}

function renderPreview() {
  const preview = $("interactive-preview");
  preview.replaceChildren();
  if (draft.header.trim()) preview.appendChild(el("div", "preview-header", draft.header));
  preview.appendChild(el("div", "", draft.body || "…"));
  if (draft.footer.trim()) preview.appendChild(el("div", "preview-footer", draft.footer));
  const row = el("div", "msg-buttons");
  if (draft.type === "button") for (const title of draft.buttons) row.appendChild(el("span", "", title || "…"));
  else if (draft.type === "list") row.appendChild(el("span", "", "☰ " + (draft.label || "…")));
  else row.appendChild(el("span", "", "↗ " + (draft.cta.title || "…")));
  preview.appendChild(row);
  if (draft.type === "list") {
    const rows = el("ul", "interactive-preview-rows");
    for (const section of draft.sections) {
      if (section.title) rows.appendChild(el("li", "muted", section.title));
      for (const item of section.rows) rows.appendChild(el("li", "", item.title + (item.description ? " — " + item.description : "")));
    }
    preview.appendChild(rows);
  }
}

function showError(message) {
  $("interactive-error").textContent = message;
  $("interactive-error").hidden = !message;
}

function open() {
  const conv = state.conversations.get(state.openId);
  if (!conv || conv.channel !== "whatsapp") return;
  if (!draft || draft.conversationId !== conv.id) draft = Object.assign(emptyDraft(), { conversationId: conv.id });
  $("interactive-type").value = draft.type;
  $("interactive-header").value = draft.header;
  $("interactive-body").value = draft.body;
  $("interactive-footer").value = draft.footer;
  showError("");
  renderFields();
  $("interactive-dialog").showModal();
  $("interactive-body").focus();
}

async function send() {
  const conv = state.conversations.get(state.openId);
  if (!conv || $("interactive-send").disabled) return;
  if (!draft.body.trim()) {
    showError("Write the message text.");
    return;
  }
  const interactive = interactiveBody();
  sendKey = sendKey || newKey();
  showError("");
  $("interactive-send").disabled = true;
  const failure = await submit(conv, { type: "interactive", interactive }, { kind: "interactive", text: draft.body, payload: { interactive } }, sendKey);
  $("interactive-send").disabled = false;
  if (!failure) {
    draft = null;
    sendKey = null;
    $("interactive-dialog").close();
    return;
  }
  if (!failure.retryable && !failure.signedOut) sendKey = null;
  showError(failure.signedOut ? "Sign in again to send." : "Not sent: " + failure.message);
}

export function wireInteractive() {
  $("open-interactive").addEventListener("click", open);
  $("interactive-cancel").addEventListener("click", () => $("interactive-dialog").close());
  $("interactive-send").addEventListener("click", send);
  $("interactive-type").addEventListener("change", () => {
    draft.type = $("interactive-type").value;
    sendKey = null;
    renderFields();
  });
  for (const part of ["header", "body", "footer"]) {
    $("interactive-" + part).addEventListener("input", () => {
      draft[part] = $("interactive-" + part).value;
      sendKey = null;
      renderPreview();
    });
  }
}
