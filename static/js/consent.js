/* The contact panel's consent section: each channel with an Opt out / Opt in button (an opt-in
 * asks why: the server refuses one without a reason), the consent history (how, by whom, why),
 * and for staff the data-request download links. */

import { api } from "./api.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { channelLabel } from "./format.js";
import { state } from "./state.js";

const CHANNELS = ["sms", "whatsapp"];
const METHODS = {
  keyword: "customer keyword",
  intent: "Plivo opt-out intent",
  error_200: "carrier opt-out (error 200)",
  agent: "agent",
  import: "import",
  api: "API",
  erasure: "suppression list",
};

let historyToken = 0;
let pendingChannel = null;

function openContact() {
  const conv = state.conversations.get(state.openId);
  return conv ? conv.contact : null;
}

function showError(message) {
  $("consent-error").textContent = message || "";
  $("consent-error").hidden = !message;
}

function renderButtons(contact) {
  for (const channel of CHANNELS) {
    const button = $(`consent-${channel}`);
    const optedOut = !!contact[`${channel}_opted_out_at`];
    button.dataset.optIn = String(optedOut);
    button.textContent = optedOut ? `Opt in to ${channelLabel(channel)}…` : `Opt out of ${channelLabel(channel)}`;
    button.disabled = !!contact.erased_at;
  }
}

function renderHistory(records) {
  const items = records.slice().reverse().map((record) => {
    const item = el("li", record.opted_in ? "consent-in" : "consent-out");
    const what = `${record.opted_in ? "Opted in" : "Opted out"} · ${channelLabel(record.channel)}`;
    item.append(el("strong", "", what), el("span", "muted", ` ${new Date(record.at).toLocaleString()}`));
    const how = `via ${METHODS[record.method] || record.method}${record.by ? " (" + record.by + ")" : ""}`;
    item.append(el("div", "consent-how", how));
    if (record.reason) item.append(el("div", "consent-reason", record.reason));
    return item;
  });
  $("consent-history").replaceChildren(...items);
  $("consent-empty").hidden = items.length > 0;
}

async function loadHistory() {
  const contact = openContact();
  if (!contact) return;
  const token = ++historyToken;
  try {
    const detail = await api("GET", `/api/v1/contacts/${contact.id}/`);
    if (token === historyToken) renderHistory(detail.consent_history);
  } catch (failure) {
    if (token === historyToken) showError(failure.message);
  }
}

function renderExportLinks(contact) {
  if (!state.me.is_staff) return;
  $("contact-data").hidden = false;
  $("contact-export").href = `/api/v1/contacts/${contact.id}/export/`;
  $("contact-export-internal").href = `/api/v1/contacts/${contact.id}/export/?include_internal=true`;
}

let shownContactId = null;

/** Called whenever the open conversation's header is drawn; fetches the history when the
 * conversation shown belongs to another contact than before. */
export function renderConsent() {
  const contact = openContact();
  if (!contact) return;
  renderButtons(contact);
  renderExportLinks(contact);
  if (shownContactId !== contact.id) {
    shownContactId = contact.id;
    closeForm();
    showError("");
    $("consent-history").replaceChildren();
    $("consent-empty").hidden = true;
    loadHistory();
  }
}

function askReason(channel, optIn) {
  pendingChannel = channel;
  $("consent-form").dataset.optIn = String(optIn);
  $("consent-reason-label").textContent = optIn
    ? `Why may we message them on ${channelLabel(channel)} again?`
    : `Why opt them out of ${channelLabel(channel)}? (optional)`;
  $("consent-reason").required = optIn;
  $("consent-reason").value = "";
  $("consent-confirm").textContent = optIn ? "Opt in" : "Opt out";
  $("consent-form").hidden = false;
  $("consent-reason").focus();
}

function closeForm() {
  pendingChannel = null;
  $("consent-form").hidden = true;
}

async function submit(event) {
  event.preventDefault();
  const contact = openContact();
  if (!contact || !pendingChannel) return;
  showError("");
  const optIn = $("consent-form").dataset.optIn === "true";
  try {
    const detail = await api("POST", `/api/v1/contacts/${contact.id}/consent/`, {
      channel: pendingChannel,
      opted_in: optIn,
      reason: $("consent-reason").value,
    });
    closeForm();
    const { consent_history: history, ...fresh } = detail;
    dispatch({ type: "contact.updated", payload: { contact: fresh } });
    renderHistory(history);
  } catch (failure) {
    showError(failure.message);
  }
}

export function wireConsent() {
  for (const channel of CHANNELS) {
    $(`consent-${channel}`).addEventListener("click", (e) => askReason(channel, e.currentTarget.dataset.optIn === "true"));
  }
  $("consent-form").addEventListener("submit", submit);
  $("consent-cancel").addEventListener("click", closeForm);
  // A consent change anywhere (this tab, a colleague, a customer's STOP) redraws the history.
  on("contact", (conv) => conv.id === state.openId && loadHistory());
}

