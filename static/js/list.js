/* The conversation list: views (Mine / Unassigned / All), status tabs, channel filter, search,
 * paging, live placement of changed conversations, the view counts and the unread title. */

import { api } from "./api.js";
import { on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { channelLabel, contactName, relativeTime, stamp, windowBadge } from "./format.js";
import { showActionError } from "./header.js";
import { hasLabel, labelChips } from "./labels.js";
import { authorPrefix, previewText } from "./messages.js";
import { state, storeFetched } from "./state.js";
import { openConversation } from "./thread.js";

function listParams(cursor) {
  const params = new URLSearchParams({ status: state.status, limit: "50" });
  if (state.view === "mine") params.set("assignee", "me");
  if (state.view === "unassigned") params.set("assignee", "none");
  if (state.channel) params.set("channel", state.channel);
  if (state.label) params.set("label", state.label);
  if (state.q) params.set("q", state.q);
  if (cursor) params.set("cursor", cursor);
  return params;
}

export async function loadList() {
  const token = ++state.listToken;
  const cursorAtFetch = state.cursor;
  const data = await api("GET", "/api/v1/conversations/?" + listParams());
  if (token !== state.listToken) return;
  state.listIds = [];
  $("conversation-list").replaceChildren();
  for (const conv of data.results) storeFetched(conv, cursorAtFetch);
  state.listIds = data.results.map((c) => c.id);
  state.nextCursor = data.next_cursor;
  for (const id of state.listIds) renderRow(state.conversations.get(id));
  renderCounts(data.counts, data.count_limit);
  renderListChrome();
  updateTitle();
}

async function loadMore() {
  if (!state.nextCursor) return;
  const token = state.listToken;
  const cursorAtFetch = state.cursor;
  const data = await api("GET", "/api/v1/conversations/?" + listParams(state.nextCursor));
  if (token !== state.listToken) return;
  for (const conv of data.results) {
    storeFetched(conv, cursorAtFetch);
    if (!state.listIds.includes(conv.id)) {
      state.listIds.push(conv.id);
      renderRow(state.conversations.get(conv.id));
    }
  }
  state.nextCursor = data.next_cursor;
  renderListChrome();
}

function matchesFilters(conv) {
  if (conv.status !== state.status) return false;
  if (state.channel && conv.channel !== state.channel) return false;
  if (state.label && !hasLabel(conv, state.label)) return false;
  if (state.view === "mine" && !(conv.assignee && conv.assignee.id === state.me.id)) return false;
  if (state.view === "unassigned" && conv.assignee) return false;
  return !!conv.last_message_at;
}

function listOrderKey(conv) {
  return [stamp(conv.last_message_at), conv.id];
}

function placeInList(conv) {
  const index = state.listIds.indexOf(conv.id);
  const belongs = matchesFilters(conv) && (!state.q || index !== -1); // search results can't be judged here
  if (index !== -1) state.listIds.splice(index, 1);
  if (!belongs) {
    const row = rowFor(conv.id);
    if (row) row.remove();
    renderListChrome();
    return;
  }
  const [time, id] = listOrderKey(conv);
  let position = state.listIds.findIndex((otherId) => {
    const [otherTime, other] = listOrderKey(state.conversations.get(otherId));
    return otherTime < time || (otherTime === time && other < id);
  });
  if (position === -1) {
    if (state.nextCursor) {
      const row = rowFor(conv.id);
      if (row) row.remove();
      renderListChrome();
      return; // older than every loaded row: it will come with "load more"
    }
    position = state.listIds.length;
  }
  state.listIds.splice(position, 0, conv.id);
  const row = renderRow(conv);
  const list = $("conversation-list");
  const before = list.children[position];
  if (before !== row) list.insertBefore(row, before || null);
  renderListChrome();
}

export function rowFor(id) {
  return document.querySelector(`#conversation-list li[data-id="${Number(id)}"]`);
}

function renderRow(conv) {
  if (!conv) return null;
  let row = rowFor(conv.id);
  if (!row) {
    if (!state.listIds.includes(conv.id)) return null;
    row = el("li", "conv");
    row.dataset.id = conv.id;
    row.tabIndex = 0;
    $("conversation-list").appendChild(row);
  }
  row.className = "conv" + (conv.unread_count > 0 ? " unread" : "");
  row.setAttribute("aria-current", conv.id === state.openId ? "true" : "false");
  const icon = el("span", "conv-icon " + conv.channel, conv.channel === "whatsapp" ? "WA" : "SMS");
  icon.title = channelLabel(conv.channel);
  const name = el("span", "conv-name", contactName(conv));
  const time = el("span", "conv-time", relativeTime(conv.last_message_at));
  time.dataset.time = conv.last_message_at || "";
  const last = conv.last_message;
  const preview = el("span", "conv-preview", last ? authorPrefix(last) + previewText(last) : "No messages yet");
  const meta = el("span", "conv-meta");
  if (conv.unread_count > 0) meta.appendChild(el("span", "unread-badge", conv.unread_count));
  const tags = el("span", "conv-tags");
  tags.appendChild(el("span", "tag", conv.assignee ? conv.assignee.name : "Unassigned"));
  const badge = windowBadge(conv);
  if (badge) tags.appendChild(el("span", badge.className, badge.text));
  tags.append(...labelChips(conv));
  row.replaceChildren(icon, name, time, preview, meta, tags);
  return row;
}

/** Relative times, window badges and sender names move with the clock and the agents list. */
export function renderRows() {
  for (const id of state.listIds) renderRow(state.conversations.get(id));
}

function renderListChrome() {
  $("list-empty").hidden = state.listIds.length > 0;
  $("list-more").hidden = !state.nextCursor;
  document.querySelectorAll(".view").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
  document.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.status === state.status)));
}

function renderCounts(counts, limit) {
  for (const view of ["mine", "unassigned", "all"]) {
    const node = document.querySelector(`[data-count="${view}"]`);
    node.textContent = limit && counts[view] >= limit ? `${limit - 1}+` : counts[view];
  }
}

let countsTimer = null;
function scheduleCounts() {
  if (countsTimer) return;
  countsTimer = setTimeout(async () => {
    countsTimer = null;
    const params = listParams();
    params.delete("q");
    params.delete("assignee");
    params.set("limit", "1");
    try {
      const data = await api("GET", "/api/v1/conversations/?" + params);
      renderCounts(data.counts, data.count_limit);
    } catch (failure) {
      /* the next change refreshes them */
    }
  }, 1500);
}

function updateTitle() {
  let unread = 0;
  for (const conv of state.conversations.values()) {
    const mineOrFree = !conv.assignee || conv.assignee.id === state.me.id;
    if (mineOrFree && conv.status !== "resolved") unread += conv.unread_count || 0;
  }
  document.title = (unread ? `(${unread}) ` : "") + "Inbox · Parley";
}

export function setFilter(changes) {
  Object.assign(state, changes);
  localStorage.setItem("parley.view", state.view);
  state.nextCursor = null;
  renderListChrome();
  loadList().catch((failure) => showActionError(failure.message));
}

export function wireList() {
  renderListChrome();
  document.querySelectorAll(".view").forEach((b) => b.addEventListener("click", () => setFilter({ view: b.dataset.view })));
  document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => setFilter({ status: b.dataset.status })));
  $("channel-filter").addEventListener("change", (e) => setFilter({ channel: e.target.value }));
  let searchTimer = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => setFilter({ q: e.target.value.trim() }), 250);
  });
  $("conversation-list").addEventListener("click", (e) => {
    const row = e.target.closest(".conv");
    if (row) openConversation(row.dataset.id);
  });
  $("conversation-list").addEventListener("keydown", (e) => {
    const row = e.target.closest(".conv");
    if (row && e.key === "Enter") openConversation(row.dataset.id);
  });
  $("load-more").addEventListener("click", () => loadMore().catch((failure) => showActionError(failure.message)));
  $("conversation-list").addEventListener("scroll", (e) => {
    const list = e.target;
    if (state.nextCursor && list.scrollTop + list.clientHeight > list.scrollHeight - 200) loadMore().catch(() => {});
  });
  on("conversation", (conv) => {
    placeInList(conv);
    updateTitle();
    scheduleCounts();
  });
  on("contact", renderRow);
}
