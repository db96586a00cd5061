/* The composer: free text and media URLs, the SMS segment counter, what the conversation
 * allows (free text, template only, nothing), and sending. */

import { api } from "./api.js";
import { dispatch, on } from "./dispatch.js";
import { $, safeUrl } from "./dom.js";
import { channelLabel, contactName, duration, optedOut, relativeTime, windowState } from "./format.js";
import { smsSegments } from "./segments.js";
import { state } from "./state.js";

function renderSegmentCounter() {
  const conv = state.conversations.get(state.openId);
  const text = $("composer-text").value;
  const node = $("segment-counter");
  if (!conv || conv.channel !== "sms" || !text) {
    node.textContent = "";
    return;
  }
  const info = smsSegments(text);
  node.textContent = `${info.units} characters · ${info.segments} SMS segment${info.segments === 1 ? "" : "s"} (${info.encoding}${info.encoding === "UCS-2" ? ": emoji or special characters halve the length" : ""})`;
}

/** What the open conversation allows: free text, a template only (WhatsApp window closed), or nothing (opted out). */
export function renderComposer() {
  const conv = state.conversations.get(state.openId);
  if (!conv) return;
  const composer = $("composer");
  const notice = $("composer-notice");
  const opt = optedOut(conv);
  const win = windowState(conv);
  const blocked = !!opt;
  const templateOnly = !blocked && conv.channel === "whatsapp" && win.state === "closed";
  composer.classList.toggle("template-only", templateOnly);
  composer.dataset.mode = blocked ? "blocked" : templateOnly ? "template-only" : "free";
  $("composer-text").disabled = blocked;
  $("send").disabled = blocked;
  $("attach").disabled = blocked;
  $("open-templates").disabled = blocked;
  $("open-templates").hidden = conv.channel !== "whatsapp";
  $("send").hidden = templateOnly;
  notice.hidden = !(blocked || templateOnly);
  notice.classList.toggle("blocked", blocked);
  if (blocked) {
    notice.textContent = `${contactName(conv)} opted out of ${channelLabel(conv.channel)} messages on ${new Date(opt.at).toLocaleDateString()}${opt.reason ? ' ("' + opt.reason + '")' : ""}. Parley won't send to them until they opt back in${conv.channel === "sms" ? " by texting START" : ""}.`;
  } else if (templateOnly) {
    notice.textContent = conv.last_inbound_at
      ? `The 24-hour WhatsApp window closed ${relativeTime(conv.window_expires_at)} ago. Only an approved template can be sent until the customer writes again.`
      : "The customer hasn't written on WhatsApp yet, so only an approved template can start this conversation.";
  }
  $("window-countdown").textContent = conv.channel === "whatsapp" && win.state !== "closed" && !blocked ? "Window closes in " + duration(win.msLeft) : "";
  renderSegmentCounter();
}

export function composerError(message) {
  $("composer-error").textContent = message;
  $("composer-error").hidden = !message;
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sendText() {
  const conv = state.conversations.get(state.openId);
  if (!conv) return;
  const text = $("composer-text").value.trim();
  const mediaValue = $("media-url").value.trim();
  if (!text && !mediaValue) return;
  const mode = $("composer").dataset.mode;
  if (mode === "blocked") return;
  if (mode === "template-only") {
    composerError("The WhatsApp window is closed: send an approved template instead.");
    return;
  }
  let body = { type: "text", text };
  let media = [];
  if (mediaValue) {
    const url = safeUrl(mediaValue);
    if (!url || !/^https?:\/\//i.test(mediaValue)) {
      composerError("The attachment must be an http(s) URL.");
      return;
    }
    media = [{ url, content_type: "" }];
    body = { type: "media", text, media_urls: [url] };
  }
  composerError("");
  $("composer-text").value = "";
  $("media-url").value = "";
  $("media-row").hidden = true;
  renderSegmentCounter();
  submit(conv, body, { kind: body.type, text, media });
}

/** Show the message at once, then POST it; the server copy replaces it by idempotency key. */
export async function submit(conv, body, look, key) {
  key = key || newKey();
  if (!state.pending.has(key)) {
    dispatch({
      type: "local.message.pending",
      payload: {
        message: Object.assign(
          { id: null, local: true, conversation_id: conv.id, direction: "outbound", status: "queued", idempotency_key: key, created_at: new Date().toISOString(), payload: {}, sent_by: { id: state.me.id, name: state.me.name }, body },
          look
        ),
      },
    });
  }
  try {
    const message = await api("POST", `/api/v1/conversations/${conv.id}/messages/`, body, { "Idempotency-Key": key });
    dispatch({ type: "message.updated", payload: { message } });
  } catch (failure) {
    dispatch({ type: "local.message.failed", payload: { key, error: failure.message, retryable: failure.retryable } });
  }
}

/** A send that failed with a retryable error, sent again under its key: the server never sends it twice. */
export function resend(key) {
  const pending = state.pending.get(key);
  const conv = pending && state.conversations.get(pending.conversation_id);
  if (!pending || !conv) return;
  dispatch({ type: "local.message.pending", payload: { message: Object.assign({}, pending, { local_error: null }) } });
  submit(conv, pending.body, {}, key);
}

/** A refused send is dropped; its text comes back to an empty composer. */
export function dismiss(key) {
  const pending = state.pending.get(key);
  if (pending && pending.kind === "text" && !$("composer-text").value) $("composer-text").value = pending.text;
  dispatch({ type: "local.message.dropped", payload: { key } });
}

export function wireComposer() {
  $("composer-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendText();
    }
  });
  $("composer-text").addEventListener("input", renderSegmentCounter);
  $("send").addEventListener("click", sendText);
  $("attach").addEventListener("click", () => {
    $("media-row").hidden = false;
    $("media-url").focus();
  });
  $("media-clear").addEventListener("click", () => {
    $("media-url").value = "";
    $("media-row").hidden = true;
  });
  on("conversation", (conv) => conv.id === state.openId && renderComposer());
  on("contact", (conv) => conv.id === state.openId && renderComposer());
}
