/* The open conversation's header (contact, channel, window, assignee, status buttons), the
 * contact panel, and the actions on the conversation. */

import { api } from "./api.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { channelLabel, contactName, windowBadge } from "./format.js";
import { renderConsent } from "./consent.js";
import { attachSnoozeMenu, renderSnoozeState } from "./snooze.js";
import { renderThreadLabels } from "./labels.js";
import { state } from "./state.js";

let snoozeMenu = null;

export function showActionError(message) {
  $("action-error").textContent = message;
  $("action-error").hidden = !message;
}

export async function updateConversation(changes) {
  const id = state.openId;
  if (!id) return;
  showActionError("");
  try {
    dispatch({ type: "conversation.updated", payload: { conversation: await api("PATCH", `/api/v1/conversations/${id}/`, changes) } });
  } catch (failure) {
    showActionError(failure.message);
  }
}

async function saveContactName(event) {
  event.preventDefault();
  const conv = state.conversations.get(state.openId);
  if (!conv) return;
  try {
    const contact = await api("PATCH", `/api/v1/contacts/${conv.contact.id}/`, { display_name: $("contact-name").value });
    dispatch({ type: "contact.updated", payload: { contact } });
    $("contact-saved").hidden = false;
    setTimeout(() => ($("contact-saved").hidden = true), 1500);
  } catch (failure) {
    showActionError(failure.message);
  }
}

export function renderThreadHeader() {
  const conv = state.conversations.get(state.openId);
  if (!conv) return;
  $("thread-name").textContent = contactName(conv);
  $("thread-channel").textContent = channelLabel(conv.channel);
  $("thread-phone").textContent = conv.contact.phone;
  renderThreadLabels(conv);
  const badge = windowBadge(conv);
  $("thread-window").hidden = !badge;
  if (badge) {
    $("thread-window").className = badge.className;
    $("thread-window").textContent = "window " + badge.text;
  }
  const assignee = conv.assignee;
  const mine = assignee && assignee.id === state.me.id;
  const held = assignee && !mine && !state.me.is_staff;
  $("thread-assignee").textContent = assignee ? (mine ? "Assigned to you" : "Assigned to " + assignee.name) : "Unassigned";
  $("assign-me").hidden = !!mine;
  $("unassign").hidden = !assignee;
  for (const id of ["assign-me", "unassign", "assign-other"]) {
    $(id).disabled = !!held;
    $(id).title = held ? `${assignee.name} holds this conversation: ask them or a supervisor to hand it over.` : "";
  }
  renderAgentOptions(conv);
  $("resolve").hidden = conv.status === "resolved";
  $("reopen").hidden = conv.status === "open";
  $("mark-pending").hidden = conv.status === "pending";
  renderSnoozeState(conv, $("thread-snoozed"));
  // contact panel
  if (document.activeElement !== $("contact-name")) $("contact-name").value = conv.contact.display_name;
  $("contact-phone").textContent = conv.contact.phone;
  $("contact-channel").textContent = channelLabel(conv.channel);
  renderOptState($("contact-sms-state"), conv.contact.sms_opted_out_at, conv.contact.sms_opt_out_reason);
  renderOptState($("contact-wa-state"), conv.contact.whatsapp_opted_out_at, conv.contact.whatsapp_opt_out_reason);
  renderConsent();
}

function renderOptState(node, at, reason) {
  node.className = at ? "opted-out" : "";
  node.textContent = at ? `Opted out ${new Date(at).toLocaleString()}${reason ? " (" + reason + ")" : ""}` : "Subscribed";
}

function renderAgentOptions(conv) {
  const first = el("option", "", "Assign to…");
  first.value = "";
  const options = [first];
  for (const agent of state.agents.values()) {
    if (agent.id === state.me.id || (conv.assignee && agent.id === conv.assignee.id)) continue;
    const option = el("option", "", agent.name);
    option.value = agent.id;
    options.push(option);
  }
  $("assign-other").replaceChildren(...options);
}

/** The Snooze menu of the open conversation (the z shortcut). */
export function openSnoozeMenu() {
  if (state.openId && snoozeMenu) snoozeMenu.open();
}

// --- the contact panel: beside the thread, or over it at phone width --------------------------
export function contactPanelOpen() {
  return !$("contact-panel").hidden;
}

export function setContactPanel(open) {
  const wasOpen = contactPanelOpen();
  const focusInside = $("contact-panel").contains(document.activeElement);
  $("contact-panel").hidden = !open;
  $("contact-backdrop").hidden = !open;
  $("toggle-contact").setAttribute("aria-expanded", String(open));
  if (open && !wasOpen && matchMedia("(max-width: 760px)").matches) $("close-contact").focus();
  // Focus left inside a closed panel would be lost: give it back to the button that opened it.
  if (!open && focusInside) $("toggle-contact").focus();
}

export function wireHeader() {
  $("assign-me").addEventListener("click", () => updateConversation({ assignee_id: state.me.id }));
  $("unassign").addEventListener("click", () => updateConversation({ assignee_id: null }));
  $("assign-other").addEventListener("change", (e) => {
    if (e.target.value) updateConversation({ assignee_id: Number(e.target.value) });
  });
  $("resolve").addEventListener("click", () => updateConversation({ status: "resolved" }));
  $("reopen").addEventListener("click", () => updateConversation({ status: "open" }));
  $("mark-pending").addEventListener("click", () => updateConversation({ status: "pending" }));
  snoozeMenu = attachSnoozeMenu($("snooze"), (until) => updateConversation({ status: "snoozed", snoozed_until: until.toISOString() }));
  $("toggle-contact").addEventListener("click", () => setContactPanel(!contactPanelOpen()));
  $("close-contact").addEventListener("click", () => setContactPanel(false));
  $("contact-backdrop").addEventListener("click", () => setContactPanel(false));
  $("contact-form").addEventListener("submit", saveContactName);
  on("conversation", (conv) => conv.id === state.openId && renderThreadHeader());
  on("contact", (conv) => conv.id === state.openId && renderThreadHeader());
}
