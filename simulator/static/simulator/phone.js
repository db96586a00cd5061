// The customer phone of Parley's local Plivo simulator: opening a customer's chat, following it
// by long polling, and sending as the customer. Everything shown here may come from an attacker
// (message text, names, URLs): it is only ever put into the page with textContent / attributes
// checked for http(s), never as HTML.

import { el as make } from "../js/dom.js";
import { BUSINESS_NAME, renderBubble, summary } from "./phone_bubbles.js";

const root = document.getElementById("simulator");
const sendUrl = root.dataset.sendUrl;
const threadUrl = root.dataset.threadUrl;

const el = (id) => document.getElementById(id);
const openForm = el("open-form");
const phoneInput = el("phone-input");
const nameInput = el("name-input");
const openError = el("open-error");
const empty = el("phone-empty");
const chat = el("phone-chat");
const threadBox = el("thread");
const compose = el("compose");
const composeText = el("compose-text");
const sendButton = el("send");
const sendError = el("send-error");
const attach = el("attach");
const attachRow = el("attach-row");
const mediaUrl = el("media-url");
const mediaFile = el("media-file");
const replying = el("replying");
const replyingText = el("replying-text");

let contacts = [];
try {
  contacts = JSON.parse(el("demo-contacts").textContent) || [];
} catch (e) {
  contacts = [];
}

const state = {
  phone: "",
  channel: "whatsapp",
  name: "",
  etag: "",
  messages: [],
  replyTo: null,
  generation: 0,
  controller: null,
};
// Bubbles already drawn (id -> {key, node}): a delivery report redraws only its own bubble,
// so a list the customer opened or a button being tapped is not swept away by the update.
const drawn = new Map();
const openLists = new Set();
const bubbleActions = { reply: startReply, tap, openLists };

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// --- opening a chat ------------------------------------------------------------------------
function selectedChannel() {
  const checked = openForm.querySelector("input[name=channel]:checked");
  return checked ? checked.value : "whatsapp";
}

function setChannel(channel) {
  const radio = openForm.querySelector('input[name=channel][value="' + (channel === "sms" ? "sms" : "whatsapp") + '"]');
  if (radio) radio.checked = true;
}

function nameFor(phone) {
  const known = contacts.find((c) => c.phone === phone && c.name);
  return known ? known.name : "";
}

function openChat(phone, channel, name) {
  phone = (phone || "").trim();
  openError.textContent = "";
  if (!phone) {
    openError.textContent = "Type the customer's phone number, e.g. +1 415 555 0123.";
    phoneInput.focus();
    return;
  }
  state.phone = phone;
  state.channel = channel === "sms" ? "sms" : "whatsapp";
  state.name = name || nameFor(phone);
  state.etag = "";
  state.messages = [];
  state.generation += 1;
  cancelReply();
  phoneInput.value = phone;
  nameInput.value = state.name;
  setChannel(state.channel);
  const params = new URLSearchParams({ phone: phone, channel: state.channel });
  if (state.name) params.set("name", state.name);
  history.replaceState(null, "", "?" + params.toString());
  empty.hidden = true;
  chat.hidden = false;
  chat.dataset.channel = state.channel;
  el("chat-title").textContent = BUSINESS_NAME;
  el("chat-subtitle").textContent =
    (state.channel === "whatsapp" ? "WhatsApp" : "SMS") + " · you are " + (state.name ? state.name + " " : "") + phone;
  el("chat-avatar").textContent = state.channel === "whatsapp" ? "P" : "SMS";
  el("chat-status").textContent = "";
  document.querySelectorAll(".sim-contact").forEach((button) => {
    button.classList.toggle("is-active", button.dataset.phone === phone && button.dataset.channel === state.channel);
  });
  threadBox.replaceChildren();
  drawn.clear();
  openLists.clear();
  state.firstDraw = true;
  sendError.textContent = "";
  restartPolling();
  composeText.focus();
}

openForm.addEventListener("submit", (event) => {
  event.preventDefault();
  openChat(phoneInput.value, selectedChannel(), nameInput.value.trim());
});

document.querySelectorAll(".sim-contact").forEach((button) => {
  button.addEventListener("click", () => openChat(button.dataset.phone, button.dataset.channel, button.dataset.name));
});

// --- live thread (long polling) ------------------------------------------------------------
function restartPolling() {
  if (state.controller) state.controller.abort();
  const generation = state.generation;
  poll(generation);
}

async function poll(generation) {
  let failures = 0;
  while (generation === state.generation && state.phone) {
    const controller = new AbortController();
    state.controller = controller;
    const params = new URLSearchParams({
      phone: state.phone,
      channel: state.channel,
      since: state.etag,
      visible: document.visibilityState === "visible" ? "1" : "0",
    });
    try {
      const response = await fetch(threadUrl + "?" + params.toString(), {
        signal: controller.signal,
        headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (generation !== state.generation) return;
      if (response.status === 400) {
        // Not a number the simulator can be: say so where it was typed.
        openError.textContent = (data.error && data.error.message) || "That number cannot be used.";
        state.phone = "";
        chat.hidden = true;
        empty.hidden = false;
        phoneInput.focus();
        return;
      }
      if (!response.ok) {
        el("chat-status").textContent = (data.error && data.error.message) || "Could not load the chat.";
        await new Promise((resolve) => setTimeout(resolve, 2000));
        continue;
      }
      failures = 0;
      el("chat-status").textContent = "";
      if (data.etag !== state.etag) {
        state.etag = data.etag;
        state.messages = data.messages;
        render();
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      failures += 1;
      el("chat-status").textContent = "Reconnecting…";
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** failures, 8000)));
    }
  }
}

document.addEventListener("visibilitychange", () => {
  // Becoming visible is the customer looking at the chat: ask again so reads are reported.
  if (state.phone) {
    state.generation += 1;
    restartPolling();
  }
});

// --- drawing the chat ----------------------------------------------------------------------
function render() {
  const atBottom = threadBox.scrollHeight - threadBox.scrollTop - threadBox.clientHeight < 80;
  const byId = new Map(state.messages.map((m) => [m.id, m]));
  const nodes = state.messages.map((message) => {
    const quoted = message.reply_to ? summary(byId.get(message.reply_to)) : "";
    const key = JSON.stringify(message) + "|" + quoted;
    const known = drawn.get(message.id);
    if (known && known.key === key) return known.node;
    const node = renderBubble(message, byId, bubbleActions);
    drawn.set(message.id, { key: key, node: node });
    return node;
  });
  if (!nodes.length) {
    nodes.push(make("p", "phone-hint", state.channel === "whatsapp"
      ? "Say hello: your message reaches Parley's inbox as a WhatsApp message."
      : "Send a text: it reaches Parley's inbox as an SMS."));
  }
  const grew = nodes.length !== threadBox.children.length;
  nodes.forEach((node, index) => {
    const current = threadBox.children[index];
    if (current !== node) threadBox.insertBefore(node, current || null);
  });
  while (threadBox.children.length > nodes.length) threadBox.lastElementChild.remove();
  if (grew && (atBottom || state.firstDraw)) threadBox.scrollTop = threadBox.scrollHeight;
  state.firstDraw = false;
}

// --- replying and sending ------------------------------------------------------------------
function startReply(message) {
  state.replyTo = message;
  replyingText.textContent = summary(message);
  replying.hidden = false;
  composeText.focus();
}

function cancelReply() {
  state.replyTo = null;
  replying.hidden = true;
  replyingText.textContent = "";
}

el("replying-cancel").addEventListener("click", cancelReply);

attach.addEventListener("click", () => {
  attachRow.hidden = !attachRow.hidden;
  attach.setAttribute("aria-expanded", String(!attachRow.hidden));
  if (!attachRow.hidden) mediaUrl.focus();
});

async function post(body) {
  sendError.textContent = "";
  const payload = Object.assign({ phone: state.phone, channel: state.channel, profile_name: state.name }, body);
  try {
    const response = await fetch(sendUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload),
    });
    const data = await response.json();
    if (!response.ok) {
      sendError.textContent = (data.error && data.error.message) || "The simulator refused this message.";
      return false;
    }
    if (data.message && data.message.webhook && data.message.webhook.error) {
      sendError.textContent = data.message.webhook.error;
    }
    return true;
  } catch (error) {
    sendError.textContent = "The simulator could not be reached.";
    return false;
  }
}

function tap(message, choice) {
  post(Object.assign({ reply_to: message.id }, choice));
}

/** The file's bytes as base64 (what Plivo would have kept for the customer's message). */
function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

let sending = false;
async function sendComposed(textOverride) {
  if (sending || !state.phone) return;
  const text = textOverride !== undefined ? textOverride : composeText.value;
  const media = textOverride !== undefined ? "" : mediaUrl.value.trim();
  const file = textOverride !== undefined ? null : mediaFile.files[0] || null;
  if (!text.trim() && !media && !file) {
    sendError.textContent = "Type a message or attach a picture.";
    return;
  }
  sending = true;
  sendButton.disabled = true;
  const body = { text: text, media_url: media, reply_to: state.replyTo ? state.replyTo.id : "" };
  if (file) body.media_file = { name: file.name, content_type: file.type, data: await base64Of(file) };
  const ok = await post(body);
  sending = false;
  sendButton.disabled = false;
  if (ok) {
    if (textOverride === undefined) {
      composeText.value = "";
      mediaUrl.value = "";
      mediaFile.value = "";
      attachRow.hidden = true;
      attach.setAttribute("aria-expanded", "false");
    }
    cancelReply();
    composeText.focus();
  }
}

compose.addEventListener("submit", (event) => {
  event.preventDefault();
  sendComposed();
});

composeText.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendComposed();
  }
});

document.querySelectorAll(".phone-keyword").forEach((button) => {
  button.addEventListener("click", () => sendComposed(button.dataset.text));
});

// --- start ---------------------------------------------------------------------------------
const initial = new URLSearchParams(window.location.search);
if (initial.get("phone")) {
  openChat(initial.get("phone"), initial.get("channel") || "whatsapp", initial.get("name") || "");
}
