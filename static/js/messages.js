/* One message as the thread shows it (every kind, its quote, ticks and errors), and the short
 * forms used in list previews and notifications. */

import { renderActivity } from "./activity.js";
import { humanSize } from "./attachments.js";
import { el, externalLink, imageLink, mapUrl, safeUrl } from "./dom.js";
import { clockTime } from "./format.js";
import { renderNote } from "./notes.js";
import { state } from "./state.js";

export const FAILED = ["failed", "undelivered", "rejected"];
const TICKS = {
  queued: ["◷", "clock", "Queued"],
  sending: ["◷", "clock", "Sending"],
  sent: ["✓", "sent", "Sent"],
  delivered: ["✓✓", "delivered", "Delivered"],
  read: ["✓✓", "read", "Read"],
};
const ERROR_HINTS = {
  200: "The customer opted out (texted STOP); they must opt back in before we can message them.",
  50: "The phone number is not valid.",
  70: "The number can't receive messages any more.",
  80: "The phone was unreachable; try again later.",
  420: "The message waited too long in the queue and expired.",
};
const KIND_LABELS = { media: "Attachment", location: "Location", template: "Template", interactive: "Interactive message", unsupported: "Unsupported message" };

export function previewText(message) {
  return message.text || KIND_LABELS[message.kind] || message.kind;
}

/**
 * "You: " for the signed-in agent's own message, "Bob: " for a colleague's, "" for the
 * customer's. Full messages carry `sent_by`; list previews and reply quotes only `sent_by_id`.
 */
export function authorPrefix(message) {
  if (message.direction !== "outbound") return "";
  const id = message.sent_by ? message.sent_by.id : message.sent_by_id;
  if (id === state.me.id) return "You: ";
  const known = message.sent_by || state.agents.get(id) || (state.messages.get(message.id) || {}).sent_by;
  return (known ? known.name : "Agent") + ": ";
}

export function renderMessage(m) {
  if (m.kind === "activity") return renderActivity(m);
  if (m.kind === "note") return renderNote(m);
  const outbound = m.direction === "outbound";
  const li = el("li", "msg " + (outbound ? "out" : "in"));
  if (m.id) li.dataset.id = m.id;
  if (m.idempotency_key) li.dataset.key = m.idempotency_key;
  li.dataset.status = m.status || "";
  if (m.local) li.classList.add("pending");
  if (FAILED.includes(m.status)) li.classList.add("failed");
  const bubble = el("div", "bubble");
  if (m.reply_to) bubble.appendChild(el("div", "msg-quote", authorPrefix(m.reply_to) + previewText(m.reply_to)));
  renderBody(bubble, m, m.payload || {});
  li.appendChild(bubble);

  const meta = el("div", "msg-meta");
  meta.appendChild(el("span", "msg-time", clockTime(m.created_at)));
  if (outbound && m.sent_by && m.sent_by.id !== state.me.id) meta.appendChild(el("span", "msg-sender", m.sent_by.name));
  if (outbound) meta.appendChild(renderTick(m));
  const note = deliveryNote(m);
  if (note) meta.appendChild(el("span", "msg-note", note));
  if (m.unconfirmed) {
    const unconfirmed = el("span", "msg-unconfirmed", "unconfirmed");
    unconfirmed.title = "Plivo has not confirmed this send yet; Parley is checking before it would send again.";
    meta.appendChild(unconfirmed);
  }
  li.appendChild(meta);

  if (outbound && FAILED.includes(m.status)) {
    const error = el("div", "msg-error");
    error.appendChild(el("span", "", m.error_message || ERROR_HINTS[m.error_code] || "The message could not be delivered."));
    const retry = el("button", "btn btn-small btn-danger", "Retry");
    retry.type = "button";
    retry.dataset.retry = m.id;
    error.appendChild(retry);
    li.appendChild(error);
  }
  return li;
}

/** What a send still on its way waits for, instead of a bare clock: its retry, or Plivo's report. */
function deliveryNote(m) {
  if (m.direction !== "outbound" || m.local || m.unconfirmed) return "";
  if (m.status === "queued" && m.next_attempt_at) {
    const seconds = Math.round((Date.parse(m.next_attempt_at) - Date.now()) / 1000);
    return (m.retry_reason || "Waiting to retry") + (seconds > 0 ? `, retrying in ${seconds} s` : ", retrying now");
  }
  return m.status === "sending" ? "no delivery report yet" : "";
}

function renderTick(m) {
  if (m.local) return Object.assign(el("span", "tick clock", "◷"), { title: "Sending" });
  if (FAILED.includes(m.status)) return Object.assign(el("span", "tick failed", "⚠"), { title: "Failed" });
  const [symbol, kind, label] = TICKS[m.status] || ["◷", "clock", m.status];
  const tick = el("span", "tick " + kind, symbol);
  tick.title = label;
  tick.setAttribute("aria-label", label);
  return tick;
}

/** Interactive buttons and list rows carry `title`; a template's rendered buttons `text`. */
function buttonTitles(payload) {
  const action = (payload.interactive || {}).action || {};
  const titles = (action.buttons || []).map((button) => button.title);
  for (const section of action.sections || []) for (const row of section.rows) titles.push(row.title);
  for (const button of (payload.rendered || {}).buttons || []) titles.push(button.text);
  return titles.filter(Boolean);
}

function renderBody(bubble, m, payload) {
  const addButtons = () => {
    const titles = buttonTitles(payload);
    if (!titles.length) return;
    const row = el("div", "msg-buttons");
    for (const title of titles) row.appendChild(el("span", "", title));
    bubble.appendChild(row);
  };
  switch (m.kind) {
    case "template": {
      const header = (payload.rendered || {}).header;
      bubble.appendChild(el("div", "msg-label", "Template" + (payload.template && payload.template.name ? " · " + payload.template.name : "")));
      if (header && header.media) renderMedia(bubble, [{ url: header.media, content_type: header.type === "image" ? "image/" : header.type }]);
      bubble.appendChild(el("div", "msg-text", m.text));
      renderMedia(bubble, m.media);
      addButtons();
      return;
    }
    case "interactive": {
      const interactive = payload.interactive || {};
      bubble.appendChild(el("div", "msg-label", "Interactive"));
      if (interactive.header && interactive.header.text) bubble.appendChild(el("div", "msg-text preview-header", interactive.header.text));
      bubble.appendChild(el("div", "msg-text", m.text));
      if (interactive.footer) bubble.appendChild(el("div", "muted", interactive.footer.text));
      addButtons();
      return;
    }
    case "button_reply":
    case "list_reply": {
      // A template's quick reply: {text, payload}; an interactive button: {id, text}; a list row: {id, title}.
      const reply = payload.button || payload.list_reply || {};
      bubble.appendChild(el("div", "msg-label", m.kind === "button_reply" ? "Button reply" : "List reply"));
      bubble.appendChild(el("div", "msg-text", m.text));
      if (reply.payload || reply.id) bubble.appendChild(el("div", "muted", "Payload: " + (reply.payload || reply.id)));
      return;
    }
    case "location": {
      const loc = payload.location || {};
      const lat = Number(loc.latitude);
      const lon = Number(loc.longitude);
      bubble.appendChild(el("div", "msg-label", "Location"));
      const label = [loc.name, loc.address].filter(Boolean).join(", ");
      if (label) bubble.appendChild(el("div", "msg-text", label));
      if (Number.isFinite(lat) && Number.isFinite(lon)) {
        bubble.appendChild(el("div", "muted", `${lat.toFixed(5)}, ${lon.toFixed(5)}`));
        bubble.appendChild(externalLink("", "Open map", mapUrl(lat, lon)));
      }
      if (m.text && m.text !== label) bubble.appendChild(el("div", "msg-text", m.text));
      return;
    }
    case "unsupported":
      bubble.appendChild(el("div", "msg-placeholder", `This message type (${payload.content_type}) can't be shown here. Ask the customer to send it as text or a photo.`));
      if (m.text) bubble.appendChild(el("div", "msg-text", m.text));
      return;
    default:
      renderMedia(bubble, m.media);
      if (m.text) bubble.appendChild(el("div", "msg-text", m.text));
      if (!m.text && !(m.media || []).length) bubble.appendChild(el("div", "msg-placeholder", "(empty message)"));
  }
}

/** Parley's own copy (the authenticated media view, or this page's origin): the only URLs the
 * thread loads. Any other host only gets a link the agent may choose to open. */
function isParleys(url) {
  return new URL(url).origin === location.origin;
}

function renderMedia(bubble, media) {
  for (const item of media || []) {
    const wrap = el("div", "msg-media");
    const type = item.content_type || "";
    const kind = type.split("/")[0] || "file";
    const label = item.name ? `${item.name}${item.size ? " · " + humanSize(item.size) : ""}` : "";
    if (item.state === "pending" || item.state === "downloading" || item.state === "sending") {
      wrap.classList.add("msg-media-waiting");
      wrap.appendChild(el("span", "msg-placeholder", item.state === "sending" ? `Sending ${label}…` : `Receiving the ${kind === "image" ? "picture" : "attachment"}…`));
      bubble.appendChild(wrap);
      continue;
    }
    if (item.state === "failed") {
      wrap.appendChild(el("span", "msg-placeholder", "The customer's attachment could not be downloaded from Plivo."));
      bubble.appendChild(wrap);
      continue;
    }
    const url = safeUrl(item.url);
    if (!url) {
      wrap.appendChild(el("span", "msg-placeholder", "Attachment with an unsafe link (not opened): " + String(item.url)));
    } else if (type.startsWith("image/") && isParleys(url)) {
      wrap.appendChild(imageLink("", url, (item.name || "Image attachment") + " (opens in a new tab)"));
    } else if ((kind === "video" || kind === "audio") && isParleys(url)) {
      const player = el(kind);
      player.controls = true;
      player.preload = "metadata";
      player.src = url;
      wrap.appendChild(player);
      if (label) wrap.appendChild(el("span", "muted", label));
    } else if (type.startsWith("image/")) {
      wrap.appendChild(externalLink("file", `Open image link (${new URL(url).host})`, url));
    } else {
      const link = externalLink("file", `Download ${item.name || kind}${type ? " (" + type + ")" : ""}${item.size ? " · " + humanSize(item.size) : ""}`, url);
      link.setAttribute("download", "");
      wrap.appendChild(link);
    }
    bubble.appendChild(wrap);
  }
}
