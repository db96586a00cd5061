/* The template dialog: pick an approved WhatsApp template, fill its parameters, see the
 * preview, send. The dialog stays open until the server accepted the send, so a refused one
 * keeps what was filled in, with the reason. */

import { api } from "./api.js";
import { newKey, submit } from "./composer.js";
import { $, el } from "./dom.js";
import { windowState } from "./format.js";
import { state } from "./state.js";

let sendKey = null; // kept while the same template and values are sent again after a lost answer
let newConversation = null; // {to, onStarted}: the template starts a conversation with a new number

/** The template dialog for the first message to a number Parley has no WhatsApp conversation with. */
export function openTemplatesFor(to, onStarted) {
  newConversation = { to, onStarted };
  sendKey = null;
  return openTemplates(null, true);
}

async function openTemplates(event, starting = false) {
  if (!starting) newConversation = null;
  const conv = state.conversations.get(state.openId);
  if (!newConversation && (!conv || conv.channel !== "whatsapp")) return;
  templateError("");
  $("template-title").textContent = newConversation ? "Start a WhatsApp conversation" : "Send a template";
  $("template-reason").textContent = newConversation
    ? `${newConversation.to} has not written to you on WhatsApp, so the 24-hour window is closed: an approved template is the only way to start.`
    : windowState(conv).state === "closed" ? "The 24-hour window is closed: a template is the only message WhatsApp will deliver." : "Templates can be sent at any time.";
  const dialog = $("template-dialog");
  if (!dialog.open) dialog.showModal();
  if (state.templates === null) {
    try {
      state.templates = await api("GET", "/api/v1/templates/"); // approved ones only
    } catch (failure) {
      templateError(failure.message);
      return;
    }
  }
  const select = $("template-select");
  select.replaceChildren(
    ...state.templates.map((t, index) => {
      const option = el("option", "", `${t.name} (${t.language})`);
      option.value = index;
      return option;
    })
  );
  if (!state.templates.length) templateError("There are no approved templates yet.");
  renderTemplateFields();
}

function currentTemplate() {
  return state.templates && state.templates[Number($("template-select").value)];
}

function renderTemplateFields() {
  sendKey = null;
  const template = currentTemplate();
  const fields = $("template-fields");
  fields.replaceChildren();
  if (!template) return renderTemplatePreview();
  const slots = template.parameter_slots;
  const group = (legend, part, total, labelFor, type) => {
    if (!total) return;
    const fieldset = el("fieldset");
    fieldset.appendChild(el("legend", "", legend));
    for (let n = 1; n <= total; n += 1) {
      const id = `tpl-${part}-${n}`;
      const label = el("label", "", labelFor(n));
      label.htmlFor = id;
      const input = el("input");
      input.type = type || "text";
      input.id = id;
      input.required = true;
      input.dataset.part = part;
      input.dataset.n = n;
      fieldset.append(label, input);
    }
    fields.appendChild(fieldset);
  };
  const mediaHeader = template.header_type && !["none", "text"].includes(template.header_type);
  group("Header", "header", slots.header, (n) => (mediaHeader ? `Header ${template.header_type} URL` : `Header {{${n}}}`), mediaHeader ? "url" : "text");
  group("Body", "body", slots.body, (n) => `Body {{${n}}}`);
  for (const button of slots.buttons) {
    if (!button.count) continue;
    const spec = template.buttons[button.index] || {};
    group(`Button “${spec.text || button.index}”`, `button-${button.index}`, button.count, () => "URL suffix {{1}}");
  }
  renderTemplatePreview();
}

function templateParameters() {
  const parameters = { header: [], body: [], buttons: {} };
  document.querySelectorAll("#template-fields input").forEach((input) => {
    const part = input.dataset.part;
    const n = Number(input.dataset.n) - 1;
    if (part === "header" || part === "body") parameters[part][n] = input.value;
    else {
      const index = part.slice("button-".length);
      (parameters.buttons[index] = parameters.buttons[index] || [])[n] = input.value;
    }
  });
  return parameters;
}

function fill(text, values) {
  return (text || "").replace(/\{\{\s*(\d+)\s*\}\}/g, (match, n) => {
    const value = values && values[Number(n) - 1];
    return value ? value : match;
  });
}

function renderTemplatePreview() {
  const template = currentTemplate();
  const preview = $("template-preview");
  preview.replaceChildren();
  if (!template) return;
  const parameters = templateParameters();
  if (template.header_type === "text") preview.appendChild(el("div", "preview-header", fill(template.header_text, parameters.header)));
  else if (template.header_type && template.header_type !== "none") preview.appendChild(el("div", "preview-header", `[${template.header_type}: ${parameters.header[0] || "URL"}]`));
  preview.appendChild(el("div", "", fill(template.body, parameters.body)));
  if (template.footer) preview.appendChild(el("div", "preview-footer", template.footer));
  const buttons = template.buttons.map((b, i) => b.text + (b.type === "url" ? " → " + fill(b.url, parameters.buttons[String(i)]) : ""));
  if (buttons.length) {
    const row = el("div", "msg-buttons");
    for (const b of buttons) row.appendChild(el("span", "", b));
    preview.appendChild(row);
  }
}

function templateError(message) {
  $("template-error").textContent = message;
  $("template-error").hidden = !message;
}

async function sendTemplate() {
  const conv = state.conversations.get(state.openId);
  const template = currentTemplate();
  if ((!conv && !newConversation) || !template || $("template-send").disabled) return;
  const empty = Array.from(document.querySelectorAll("#template-fields input")).find((input) => !input.value.trim());
  if (empty) {
    templateError("Fill in every parameter: " + (empty.labels[0] ? empty.labels[0].textContent : "a field is empty") + ".");
    empty.focus();
    return;
  }
  const body = { type: "template", template: { name: template.name, language: template.language, parameters: templateParameters() } };
  sendKey = sendKey || newKey();
  templateError("");
  $("template-send").disabled = true;
  if (newConversation) return startWith(Object.assign({ to: newConversation.to, channel: "whatsapp" }, body));
  const failure = await submit(conv, body, { kind: "template", text: $("template-preview").textContent, payload: { template: { name: template.name } } }, sendKey);
  $("template-send").disabled = false;
  if (!failure) {
    sendKey = null;
    $("template-dialog").close();
    return;
  }
  if (!failure.retryable && !failure.signedOut) sendKey = null;
  templateError(failure.signedOut ? "Sign in again to send." : "Not sent: " + failure.message);
}

async function startWith(body) {
  try {
    const message = await api("POST", "/api/v1/messages/", body, { "Idempotency-Key": sendKey });
    const { onStarted } = newConversation;
    sendKey = null;
    newConversation = null;
    $("template-dialog").close();
    onStarted(message);
  } catch (failure) {
    if (!failure.retryable && !failure.signedOut) sendKey = null;
    templateError(failure.signedOut ? "Sign in again to send." : "Not sent: " + failure.message);
  } finally {
    $("template-send").disabled = false;
  }
}

export function wireTemplates() {
  $("open-templates").addEventListener("click", () => openTemplates());
  $("template-select").addEventListener("change", renderTemplateFields);
  $("template-fields").addEventListener("input", () => {
    sendKey = null;
    renderTemplatePreview();
  });
  $("template-send").addEventListener("click", sendTemplate);
  $("template-cancel").addEventListener("click", () => $("template-dialog").close());
  $("template-dialog").addEventListener("close", () => {
    newConversation = null;
  });
}
