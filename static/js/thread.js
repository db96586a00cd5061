/* The open conversation: loading it, drawing its messages, and keeping the newest message in
 * view while the agent is at the end of the thread. */

import { api } from "./api.js";
import { renderComposer, showDraft } from "./composer.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { stamp } from "./format.js";
import { renderThreadHeader, showActionError } from "./header.js";
import { renderMessage } from "./messages.js";
import { state, storeFetched, takeSnapshot } from "./state.js";

const NEAR_END_PX = 80;
let pinnedToBottom = true;

export async function openConversation(id, { push = true } = {}) {
  id = Number(id);
  const token = ++state.threadToken;
  state.openId = id;
  state.messages = new Map();
  state.olderCursor = null;
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
    renderMessages({ scroll: true });
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

export function renderMessages({ scroll = false } = {}) {
  const box = $("messages");
  const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_END_PX;
  const items = [];
  let lastDay = "";
  for (const message of sortedThread()) {
    const day = new Date(message.created_at).toDateString();
    if (day !== lastDay) {
      items.push(el("li", "day-divider", new Date(message.created_at).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })));
      lastDay = day;
    }
    items.push(renderMessage(message));
  }
  $("message-list").replaceChildren(...items);
  $("load-older-wrap").hidden = !state.olderCursor;
  if (scroll || nearEnd) {
    box.scrollTop = box.scrollHeight;
    pinnedToBottom = true;
  }
}

export function wireThread() {
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    pinnedToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_END_PX;
  });
  // An image that loads after the thread scrolled down must not push the newest message out of view.
  $("message-list").addEventListener("load", () => pinnedToBottom && ($("messages").scrollTop = $("messages").scrollHeight), true);
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
  on("pending", ({ conversationId }) => conversationId === state.openId && renderMessages());
}
