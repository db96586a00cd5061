/* The open conversation: loading it, drawing its messages, and keeping the newest message in
 * view while the agent follows along.
 *
 * The thread follows the end until the agent scrolls up. Whatever changes the layout (a new
 * message, an image loading, the opt-out notice, the contact panel narrowing the thread) is
 * seen by a ResizeObserver, which scrolls back to the end while following. A message the agent
 * sends is always scrolled into view; a new message while scrolled up shows the "New messages"
 * pill instead of moving the thread.
 */

import { api } from "./api.js";
import { renderComposer, showDraft } from "./composer.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { stamp } from "./format.js";
import { renderThreadHeader, showActionError } from "./header.js";
import { renderMessage } from "./messages.js";
import { state, storeFetched, takeSnapshot } from "./state.js";

const NEAR_END_PX = 80;
const follow = { pinned: true, top: 0, lastKey: null };
let drawn = new Map(); // item key -> {signature, node}: unchanged messages keep their node (and loaded images)

export async function openConversation(id, { push = true } = {}) {
  id = Number(id);
  const token = ++state.threadToken;
  state.openId = id;
  state.messages = new Map();
  state.olderCursor = null;
  drawn = new Map();
  follow.lastKey = null;
  $("message-list").replaceChildren();
  showDraft(id); // at once: a keystroke from now on belongs to this conversation
  $("thread-empty").hidden = true;
  $("thread").hidden = false;
  $("inbox").dataset.pane = "thread";
  showActionError("");
  if (push && location.pathname !== `/inbox/${id}/`) history.pushState({ id }, "", `/inbox/${id}/`);
  document.querySelectorAll("#conversation-list .conv").forEach((row) => row.setAttribute("aria-current", String(Number(row.dataset.id) === id)));
  const cursorAtFetch = state.cursor;
  try {
    const [conv, page] = await Promise.all([api("GET", `/api/v1/conversations/${id}/`), api("GET", `/api/v1/conversations/${id}/messages/`)]);
    if (token !== state.threadToken) return;
    storeFetched(conv, cursorAtFetch);
    for (const message of page.results) {
      if (takeSnapshot("m:" + message.id, state.messages.get(message.id), message, cursorAtFetch)) state.messages.set(message.id, message);
    }
    state.olderCursor = page.older_cursor;
    renderThreadHeader();
    renderComposer();
    follow.pinned = true;
    renderMessages();
    if (state.conversations.get(id).unread_count > 0) markReadSoon();
  } catch (failure) {
    if (token === state.threadToken) showActionError(failure.message);
  }
}

export function closeThread() {
  state.openId = null;
  showDraft(null);
  $("thread").hidden = true;
  $("thread-empty").hidden = false;
  $("inbox").dataset.pane = "list";
  if (location.pathname !== "/inbox/") history.pushState({}, "", "/inbox/");
  document.querySelectorAll("#conversation-list .conv").forEach((row) => row.setAttribute("aria-current", "false"));
}

async function loadOlder() {
  if (!state.olderCursor || !state.openId) return;
  const id = state.openId;
  const box = $("messages");
  const heightBefore = box.scrollHeight;
  const page = await api("GET", `/api/v1/conversations/${id}/messages/?before=${encodeURIComponent(state.olderCursor)}`);
  if (id !== state.openId) return;
  for (const message of page.results) if (!state.messages.has(message.id)) state.messages.set(message.id, message);
  state.olderCursor = page.older_cursor;
  renderMessages();
  box.scrollTop = box.scrollHeight - heightBefore;
  follow.top = box.scrollTop;
}

/** Scroll message `id` of the open thread into view, loading older pages until it is there,
 * and stop following the end so that it stays in view. Returns whether it was found. */
export async function revealMessage(id) {
  const conversationId = state.openId;
  for (let page = 0; !state.messages.has(id) && state.olderCursor && page < 20; page += 1) {
    await loadOlder();
    if (state.openId !== conversationId) return false;
  }
  const node = $("message-list").querySelector(`li[data-id="${Number(id)}"]`);
  if (!node) return false;
  follow.pinned = false;
  node.scrollIntoView({ block: "center" });
  follow.top = $("messages").scrollTop;
  node.classList.add("highlight");
  node.addEventListener("animationend", () => node.classList.remove("highlight"), { once: true });
  return true;
}

let readTimer = null;
export function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const conv = state.conversations.get(state.openId);
    if (!conv || conv.unread_count === 0 || document.hidden) return;
    try {
      dispatch({ type: "conversation.updated", payload: { conversation: await api("POST", `/api/v1/conversations/${conv.id}/read/`) } });
    } catch (failure) {
      /* stays unread; harmless */
    }
  }, 300);
}

async function retryMessage(id) {
  try {
    dispatch({ type: "message.updated", payload: { message: await api("POST", `/api/v1/messages/${id}/retry/`) } });
  } catch (failure) {
    showActionError(failure.message);
  }
}

function sortedThread() {
  const real = Array.from(state.messages.values()).sort((a, b) => stamp(a.created_at) - stamp(b.created_at) || a.id - b.id);
  const pending = Array.from(state.pending.values()).filter((m) => m.conversation_id === state.openId);
  return real.concat(pending);
}

function itemKey(message) {
  return message.id ? "m:" + message.id : "p:" + message.idempotency_key;
}

/** The node drawn for `key` last time if it still shows the same thing, else a new one. */
function reuse(next, key, signature, render) {
  const known = drawn.get(key);
  const node = known && known.signature === signature ? known.node : render();
  next.set(key, { signature, node });
  return node;
}

export function renderMessages() {
  const list = $("message-list");
  const thread = sortedThread();
  const next = new Map();
  const items = [];
  let lastDay = "";
  for (const message of thread) {
    const day = new Date(message.created_at).toDateString();
    if (day !== lastDay) {
      const label = new Date(message.created_at).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
      items.push(reuse(next, "d:" + day, label, () => el("li", "day-divider", label)));
      lastDay = day;
    }
    items.push(reuse(next, itemKey(message), JSON.stringify(message), () => renderMessage(message)));
  }
  drawn = next;
  items.forEach((node, index) => {
    const current = list.children[index];
    if (current !== node) list.insertBefore(node, current || null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
  $("load-older-wrap").hidden = !state.olderCursor;

  const last = thread[thread.length - 1];
  const lastKey = last ? itemKey(last) : null;
  const arrived = !!last && lastKey !== follow.lastKey && follow.lastKey !== null && !(last.sent_by && last.sent_by.id === state.me.id);
  follow.lastKey = lastKey;
  if (follow.pinned) scrollToEnd();
  else if (arrived) $("new-messages").hidden = false;
}

/** Drawn messages show who wrote a quoted message; the agents' names may arrive after them. */
export function redrawMessages() {
  drawn = new Map();
  if (state.openId) renderMessages();
}

function scrollToEnd() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
  follow.pinned = true;
  follow.top = box.scrollTop;
  $("new-messages").hidden = true;
}

function onScroll() {
  const box = $("messages");
  if (box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_END_PX) {
    follow.pinned = true;
    $("new-messages").hidden = true;
  } else if (box.scrollTop < follow.top - 1) {
    follow.pinned = false; // only the agent moves the thread up: layout changes push the end down
  }
  follow.top = box.scrollTop;
}

export function wireThread() {
  $("messages").addEventListener("scroll", onScroll);
  const resized = new ResizeObserver(() => {
    if (follow.pinned && state.openId) scrollToEnd();
  });
  resized.observe($("messages"));
  resized.observe($("message-list"));
  $("new-messages").addEventListener("click", scrollToEnd);
  $("load-older").addEventListener("click", () => loadOlder().catch((failure) => showActionError(failure.message)));
  $("back-to-list").addEventListener("click", closeThread);
  $("message-list").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-retry]");
    if (button) retryMessage(button.dataset.retry);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.openId) markReadSoon();
  });
  on("message", (message) => {
    renderMessages();
    if (!document.hidden && message.direction === "inbound") markReadSoon();
  });
  on("pending", ({ conversationId, sent }) => {
    if (conversationId !== state.openId) return;
    if (sent) follow.pinned = true; // what the agent just sent is always shown
    renderMessages();
  });
}
