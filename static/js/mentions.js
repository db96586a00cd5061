/* The signed-in agent's mentions: the "@ Mentions" button with its unread badge, the list it
 * opens, and a browser notification (behind the "Notify" toggle) when a colleague @mentions
 * them in a note. Clicking one marks it read, opens its conversation and scrolls to the note.
 *
 * Mentions reach only this agent's sockets and are not in the event log, so the list is
 * fetched again whenever the socket is live again.
 */

import { api } from "./api.js";
import { on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { channelLabel, relativeTime, stamp } from "./format.js";
import { state } from "./state.js";
import { openConversation, revealMessage } from "./thread.js";

const PAGE = 30;
const REPLAY_AGE_MS = 120000;

// `changes` counts what this page learnt while a fetch was on its way (a push, a read); `notified`
// holds the mentions already shown as a browser notification, so each is shown once.
const mentions = { byId: new Map(), unread: 0, loadToken: 0, changes: 0, notified: new Set() };

async function load() {
  const token = ++mentions.loadToken;
  const changesBefore = mentions.changes;
  try {
    const page = await api("GET", `/api/v1/notifications/?limit=${PAGE}`);
    if (token !== mentions.loadToken) return;
    // The answer may predate a push that came meanwhile (a slow server): ask again rather than
    // let it take back a mention already shown.
    if (mentions.changes !== changesBefore) return load();
    mentions.byId = new Map(page.results.map((n) => [n.id, n]));
    mentions.unread = page.unread_count;
    showError("");
  } catch (failure) {
    showError(failure.message);
  }
  render();
}

function showError(message) {
  $("mentions-error").textContent = message;
  $("mentions-error").hidden = !message;
}

function sorted() {
  return Array.from(mentions.byId.values()).sort((a, b) => stamp(b.created_at) - stamp(a.created_at) || b.id - a.id);
}

function contactLabel(n) {
  const contact = n.conversation.contact;
  return `${contact.display_name || contact.phone} (${channelLabel(n.conversation.channel)})`;
}

function render() {
  const badge = $("mentions-badge");
  badge.textContent = mentions.unread > 99 ? "99+" : String(mentions.unread);
  badge.hidden = mentions.unread === 0;
  $("mentions-toggle").setAttribute("aria-label", `Mentions, ${mentions.unread} unread`);
  const list = $("mentions-list");
  list.replaceChildren();
  for (const n of sorted()) {
    const item = el("li", "mention-item" + (n.read_at ? "" : " unread"));
    const button = el("button", "mention-open");
    button.type = "button";
    button.dataset.notification = n.id;
    const head = el("span", "mention-head");
    head.appendChild(el("strong", "", (n.actor ? n.actor.name : "A former agent") + " mentioned you"));
    head.appendChild(el("span", "muted", relativeTime(n.created_at)));
    button.appendChild(head);
    button.appendChild(el("span", "mention-where", contactLabel(n)));
    button.appendChild(el("span", "mention-excerpt", n.message.excerpt));
    item.appendChild(button);
    list.appendChild(item);
  }
  $("mentions-empty").hidden = mentions.byId.size > 0;
  $("mentions-read-all").disabled = mentions.unread === 0;
}

function setPanel(open) {
  $("mentions-panel").hidden = !open;
  $("mentions-toggle").setAttribute("aria-expanded", String(open));
  if (open) render(); // relative times move on
}

async function markRead(n) {
  if (n.read_at) return;
  n.read_at = new Date().toISOString(); // at once; the server's answer (and other tabs) follow
  mentions.changes += 1;
  mentions.unread = Math.max(0, mentions.unread - 1);
  render();
  try {
    await api("POST", `/api/v1/notifications/${n.id}/read/`);
  } catch (failure) {
    await load();
  }
}

/** Mark it read, open its conversation and show the note. */
export async function openMention(n) {
  setPanel(false);
  markRead(n);
  if (state.openId !== n.conversation.id || !state.messages.has(n.message.id)) await openConversation(n.conversation.id);
  await revealMessage(n.message.id);
}

function notifyBrowser(n) {
  if (localStorage.getItem("parley.notify") !== "1" || !("Notification" in window) || Notification.permission !== "granted") return;
  if (Date.now() - Date.parse(n.created_at) > REPLAY_AGE_MS) return;
  if (!document.hidden && state.openId === n.conversation.id) return; // already in front of the agent
  const note = new Notification(`${n.actor ? n.actor.name : "A colleague"} mentioned you · ${contactLabel(n)}`, {
    body: n.message.excerpt,
    tag: "parley-mention-" + n.id,
  });
  note.onclick = () => {
    window.focus();
    openMention(n);
  };
}

function onCreated({ notification, unread_count }) {
  mentions.changes += 1;
  mentions.byId.set(notification.id, notification);
  mentions.unread = unread_count;
  render();
  // Shown even when a fetch brought the mention in first: that fetch showed nothing.
  if (!mentions.notified.has(notification.id)) {
    mentions.notified.add(notification.id);
    notifyBrowser(notification);
  }
}

function onRead({ ids, all, unread_count }) {
  mentions.changes += 1;
  const now = new Date().toISOString();
  for (const n of mentions.byId.values()) if (all || ids.includes(n.id)) n.read_at = n.read_at || now;
  mentions.unread = unread_count;
  render();
}

export function wireMentions() {
  $("mentions-toggle").addEventListener("click", () => setPanel($("mentions-panel").hidden));
  $("mentions-list").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-notification]");
    const n = button && mentions.byId.get(Number(button.dataset.notification));
    if (n) openMention(n);
  });
  $("mentions-read-all").addEventListener("click", async () => {
    try {
      const answer = await api("POST", "/api/v1/notifications/read/");
      onRead({ ids: [], all: true, unread_count: answer.unread_count });
    } catch (failure) {
      showError(failure.message);
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("mentions-panel").hidden) {
      setPanel(false);
      $("mentions-toggle").focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!$("mentions-panel").hidden && !$("mentions").contains(e.target)) setPanel(false);
  });
  on("notification.created", onCreated);
  on("notifications.read", onRead);
  on("connected", load);
  load();
}
