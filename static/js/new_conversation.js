/* "New conversation": a phone number (any format) and a channel. If Parley already has that
 * conversation it opens, never a duplicate; an opted-out number is refused with the reason. On
 * WhatsApp the customer has not written, so the first message is an approved template (the
 * template dialog, with its live preview); on SMS it is free text. */

import { api } from "./api.js";
import { newKey } from "./composer.js";
import { $ } from "./dom.js";
import { characters, smsSegments } from "./segments.js";
import { openTemplatesFor } from "./templates.js";
import { openConversation } from "./thread.js";

let found = null; // the lookup of the number and channel as typed, once done
let sendKey = null;

function channel() {
  return document.querySelector("input[name=new-channel]:checked").value;
}

function showError(message) {
  $("new-error").textContent = message;
  $("new-error").hidden = !message;
}

function reset() {
  found = null;
  sendKey = null;
  $("new-sms").hidden = true;
  $("new-continue").textContent = "Continue";
  $("new-hint").textContent = channel() === "whatsapp"
    ? "WhatsApp: the customer has not written, so you will start with an approved template."
    : "SMS: you will write the first message.";
  showError("");
}

function open() {
  reset();
  $("new-phone").value = "";
  $("new-text").value = "";
  $("new-conversation-dialog").showModal();
  $("new-phone").focus();
}

function started(message) {
  $("new-conversation-dialog").close();
  openConversation(message.conversation_id);
}

async function next() {
  if ($("new-continue").disabled) return;
  if (found && found.channel === "sms") return sendSms();
  $("new-continue").disabled = true;
  try {
    found = await api("GET", `/api/v1/conversations/lookup/?${new URLSearchParams({ phone: $("new-phone").value, channel: channel() })}`);
  } catch (failure) {
    showError(failure.message);
    return;
  } finally {
    $("new-continue").disabled = false;
  }
  if (found.refusal) {
    showError(found.refusal);
    found = null;
  } else if (found.conversation_id) {
    $("new-conversation-dialog").close();
    openConversation(found.conversation_id);
  } else if (found.channel === "whatsapp") {
    $("new-conversation-dialog").close();
    openTemplatesFor(found.phone, (message) => openConversation(message.conversation_id));
  } else {
    $("new-hint").textContent = `A new SMS conversation with ${found.phone}.`;
    $("new-sms").hidden = false;
    $("new-continue").textContent = "Send";
    $("new-text").focus();
  }
}

async function sendSms() {
  const text = $("new-text").value;
  if (!text.trim()) {
    showError("Write the first message.");
    return;
  }
  sendKey = sendKey || newKey();
  $("new-continue").disabled = true;
  showError("");
  try {
    started(await api("POST", "/api/v1/messages/", { to: found.phone, channel: "sms", kind: "text", text }, { "Idempotency-Key": sendKey }));
  } catch (failure) {
    if (!failure.retryable && !failure.signedOut) sendKey = null;
    showError(failure.signedOut ? "Sign in again to send." : "Not sent: " + failure.message);
  } finally {
    $("new-continue").disabled = false;
  }
}

function renderCounter() {
  const text = $("new-text").value;
  const info = smsSegments(text);
  $("new-counter").textContent = text ? `${characters(text)} characters · ${info.segments} SMS segment${info.segments === 1 ? "" : "s"}` : "";
}

export function wireNewConversation() {
  $("new-conversation").addEventListener("click", open);
  $("new-cancel").addEventListener("click", () => $("new-conversation-dialog").close());
  $("new-continue").addEventListener("click", next);
  $("new-phone").addEventListener("input", reset);
  $("new-phone").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      next();
    }
  });
  for (const radio of document.querySelectorAll("input[name=new-channel]")) radio.addEventListener("change", reset);
  $("new-text").addEventListener("input", () => {
    sendKey = null; // another text is another message
    renderCounter();
  });
}
