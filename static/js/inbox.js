/* Parley agent inbox. Plain JS, no build step, no inline script (the CSP forbids it).
 *
 * Everything that changes what the page shows goes through dispatch(event): events pushed by
 * the WebSocket, events replayed after a reconnect, and the answers to this tab's own actions.
 * Applying an event is idempotent (an older snapshot never overwrites a newer one), so the same
 * event may arrive twice (socket + replay) without harm.
 *
 * Attacker-controlled text (names, messages, URLs) only ever reaches the DOM via textContent
 * or checked http(s) URLs; this file never uses innerHTML.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("inbox-bootstrap").textContent);
  const $ = (id) => document.getElementById(id);
  const THREE_HOURS = 3 * 3600 * 1000;
  const CATCH_UP_SLACK = 50; // event ids are allocated at insert but may commit out of order

  const state = {
    me: boot.user,
    view: localStorage.getItem("parley.view") || "all",
    status: "open",
    channel: "",
    q: "",
    listIds: [],
    nextCursor: null,
    listToken: 0,
    conversations: new Map(), // id -> newest snapshot seen
    contactCursor: new Map(), // contact id -> cursor of the data we show
    snapshotCursor: new Map(), // "c:<id>" / "m:<id>" -> cursor of the snapshot we hold
    openId: null,
    threadToken: 0,
    messages: new Map(), // id -> snapshot (open thread)
    pending: new Map(), // idempotency key -> optimistic message (open thread or any)
    olderCursor: null,
    cursor: boot.event_cursor || 0, // highest event cursor applied
    agents: [],
    templates: null,
    pinnedToBottom: true,
    signedOut: false,
  };

  // --- small helpers ----------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  /** Microseconds since the epoch, for ordering snapshots (Date.parse drops microseconds). */
  function stamp(iso) {
    if (!iso) return 0;
    const match = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso);
    if (!match) return Date.parse(iso) * 1000 || 0;
    const micros = Number(((match[2] || "") + "000000").slice(0, 6));
    return Date.parse(match[1] + (match[3] || "Z")) * 1000 + micros;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function csrfToken() {
    const input = document.querySelector(".logout-form input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function relativeTime(iso) {
    if (!iso) return "";
    const then = new Date(iso);
    const seconds = (Date.now() - then.getTime()) / 1000;
    if (seconds < 45) return "now";
    if (seconds < 3600) return Math.round(seconds / 60) + " min";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h";
    if (seconds < 7 * 86400) return then.toLocaleDateString(undefined, { weekday: "short" });
    return then.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  }

  function clockTime(iso) {
    return iso ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
  }

  function duration(ms) {
    const minutes = Math.max(1, Math.round(ms / 60000));
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    return rest && hours < 10 ? `${hours} h ${rest} min` : `${hours} h`;
  }

  function contactName(conv) {
    const contact = conv.contact || {};
    return contact.display_name || contact.phone || "Unknown";
  }

  function channelLabel(channel) {
    return channel === "whatsapp" ? "WhatsApp" : channel === "sms" ? "SMS" : channel;
  }

  /** {state: "open"|"closing"|"closed"|"none", msLeft} for a WhatsApp conversation. */
  function windowState(conv) {
    if (!conv || conv.channel !== "whatsapp") return { state: "none", msLeft: Infinity };
    const expires = conv.window_expires_at ? Date.parse(conv.window_expires_at) : 0;
    const msLeft = expires - Date.now();
    if (!expires || msLeft <= 0) return { state: "closed", msLeft: 0 };
    return { state: msLeft < THREE_HOURS ? "closing" : "open", msLeft };
  }

  function optedOut(conv) {
    const contact = conv && conv.contact;
    if (!contact) return null;
    const at = contact[conv.channel + "_opted_out_at"];
    return at ? { at, reason: contact[conv.channel + "_opt_out_reason"] || "" } : null;
  }

  // --- the API ------------------------------------------------------------------------------------
  class ApiFailure extends Error {
    constructor(status, error) {
      super((error && error.message) || `The server answered ${status}.`);
      this.status = status;
      this.code = (error && error.code) || "";
      this.field = (error && error.field) || null;
    }
  }

  async function api(method, url, body, headers) {
    const options = { method, credentials: "same-origin", headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const failure = new ApiFailure(response.status, data && data.error);
      if (response.status === 401 || (response.status === 403 && ["not_authenticated", "permission_denied", "authentication_failed"].includes(failure.code))) {
        showSignedOut();
      }
      throw failure;
    }
    return data;
  }

  function showSignedOut() {
    state.signedOut = true;
    $("signed-out").hidden = false;
    setConnection("offline", "Signed out");
    if (socket) socket.close();
  }

  /**
   * Whether a snapshot may replace the one held: a later updated_at wins; on a tie the one
   * from the later event (or REST answer, counted as of the events applied when it was asked
   * for) wins, so a replayed old event never undoes a newer state.
   */
  function takeSnapshot(key, current, incoming, cursor) {
    if (current) {
      const held = stamp(current.updated_at);
      const offered = stamp(incoming.updated_at);
      if (offered < held) return false;
      if (offered === held && cursor < (state.snapshotCursor.get(key) || 0)) return false;
    }
    state.snapshotCursor.set(key, cursor);
    return true;
  }

  // --- the single update path ----------------------------------------------------------------------
  function dispatch(event) {
    // Answers to this tab's own requests carry no cursor: they are as fresh as everything applied.
    const cursor = event.cursor || state.cursor;
    if (event.cursor && event.cursor > state.cursor) state.cursor = event.cursor;
    const payload = event.payload || {};
    switch (event.type) {
      case "message.created": {
        const fresh = applyConversation(payload.conversation, cursor);
        const known = state.messages.has(payload.message.id);
        applyMessage(payload.message, cursor);
        if (fresh && !known) maybeNotify(payload.message, state.conversations.get(payload.message.conversation_id));
        break;
      }
      case "message.updated":
        applyMessage(payload.message, cursor);
        break;
      case "conversation.updated":
        applyConversation(payload.conversation, cursor);
        break;
      case "contact.updated":
        applyContact(payload.contact, cursor);
        break;
      case "local.message.pending":
        state.pending.set(payload.message.idempotency_key, payload.message);
        if (payload.message.conversation_id === state.openId) renderMessages();
        break;
      case "local.message.failed": {
        const pending = state.pending.get(payload.key);
        if (pending) {
          pending.local_error = payload.error;
          pending.local_retryable = payload.retryable;
          if (pending.conversation_id === state.openId) renderMessages();
        }
        break;
      }
      case "local.message.dropped":
        state.pending.delete(payload.key);
        renderMessages();
        break;
      default:
        break; // an event type this page does not know yet: ignore, the next reload shows it
    }
  }

  /** Store a conversation snapshot unless we hold a newer one. Returns whether it was newer. */
  function applyConversation(conv, cursor) {
    if (!conv) return false;
    const current = state.conversations.get(conv.id);
    if (!takeSnapshot("c:" + conv.id, current, conv, cursor)) return false;
    const contactCursor = state.contactCursor.get(conv.contact.id) || 0;
    if (current && cursor < contactCursor) conv = Object.assign({}, conv, { contact: current.contact });
    else state.contactCursor.set(conv.contact.id, cursor);
    state.conversations.set(conv.id, conv);
    placeInList(conv);
    if (conv.id === state.openId) renderThreadHeader();
    updateTitle();
    scheduleCounts();
    return !current || stamp(current.updated_at) < stamp(conv.updated_at);
  }

  function applyContact(contact, cursor) {
    if (!contact) return;
    if (cursor < (state.contactCursor.get(contact.id) || 0)) return;
    state.contactCursor.set(contact.id, cursor);
    for (const conv of state.conversations.values()) {
      if (conv.contact && conv.contact.id === contact.id) {
        conv.contact = contact;
        renderRow(conv);
        if (conv.id === state.openId) renderThreadHeader();
      }
    }
  }

  function applyMessage(message, cursor) {
    if (!message) return;
    if (message.idempotency_key && state.pending.has(message.idempotency_key) && message.sent_by && message.sent_by.id === state.me.id) {
      state.pending.delete(message.idempotency_key); // the server copy replaces the optimistic one
    }
    if (message.conversation_id !== state.openId) return;
    if (!takeSnapshot("m:" + message.id, state.messages.get(message.id), message, cursor)) return;
    state.messages.set(message.id, message);
    renderMessages();
    if (!document.hidden && message.direction === "inbound") markReadSoon();
  }

  // --- the conversation list -------------------------------------------------------------------------
  function listParams(cursor) {
    const params = new URLSearchParams({ status: state.status, limit: "50" });
    if (state.view === "mine") params.set("assignee", "me");
    if (state.view === "unassigned") params.set("assignee", "none");
    if (state.channel) params.set("channel", state.channel);
    if (state.q) params.set("q", state.q);
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  async function loadList() {
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

  /** A REST answer is as fresh as the events applied when it was requested. */
  function storeFetched(conv, cursorAtFetch) {
    if (!takeSnapshot("c:" + conv.id, state.conversations.get(conv.id), conv, cursorAtFetch)) return;
    state.conversations.set(conv.id, conv);
    if (cursorAtFetch > (state.contactCursor.get(conv.contact.id) || 0)) state.contactCursor.set(conv.contact.id, cursorAtFetch);
  }

  function matchesFilters(conv) {
    if (conv.status !== state.status) return false;
    if (state.channel && conv.channel !== state.channel) return false;
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

  function rowFor(id) {
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
    const preview = el("span", "conv-preview", last ? (last.direction === "outbound" ? "You: " : "") + previewText(last) : "No messages yet");
    const meta = el("span", "conv-meta");
    if (conv.unread_count > 0) meta.appendChild(el("span", "unread-badge", conv.unread_count));
    const tags = el("span", "conv-tags");
    tags.appendChild(el("span", "tag", conv.assignee ? conv.assignee.name : "Unassigned"));
    const badge = windowBadge(conv);
    if (badge) tags.appendChild(badge);
    row.replaceChildren(icon, name, time, preview, meta, tags);
    return row;
  }

  function previewText(message) {
    if (message.text) return message.text;
    const labels = { media: "Attachment", location: "Location", template: "Template", interactive: "Interactive message", unsupported: "Unsupported message" };
    return labels[message.kind] || message.kind;
  }

  function windowBadge(conv) {
    const win = windowState(conv);
    if (win.state === "closing") return el("span", "window-badge", "closes in " + duration(win.msLeft));
    if (win.state === "closed") return el("span", "window-badge closed", "closed");
    return null;
  }

  function renderListChrome() {
    $("list-empty").hidden = state.listIds.length > 0;
    $("list-more").hidden = !state.nextCursor;
    document.querySelectorAll(".view").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === state.view)));
    document.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.status === state.status)));
  }

  function renderCounts(counts, limit) {
    if (!counts) return;
    for (const view of ["mine", "unassigned", "all"]) {
      const node = document.querySelector(`[data-count="${view}"]`);
      if (node) node.textContent = limit && counts[view] >= limit ? `${limit - 1}+` : counts[view];
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
      } catch (e) {
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

  // --- the thread ----------------------------------------------------------------------------------------
  async function openConversation(id, { push = true } = {}) {
    id = Number(id);
    const token = ++state.threadToken;
    state.openId = id;
    state.messages = new Map();
    state.olderCursor = null;
    $("message-list").replaceChildren();
    $("thread-empty").hidden = true;
    $("thread").hidden = false;
    $("inbox").dataset.pane = "thread";
    $("action-error").hidden = true;
    $("composer-error").hidden = true;
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
      renderMessages({ scroll: true });
      if (state.conversations.get(id).unread_count > 0) markReadSoon();
    } catch (e) {
      if (token === state.threadToken) showActionError(e.message);
    }
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
  function markReadSoon() {
    clearTimeout(readTimer);
    readTimer = setTimeout(async () => {
      const conv = state.conversations.get(state.openId);
      if (!conv || conv.unread_count === 0 || document.hidden) return;
      try {
        dispatch({ type: "conversation.updated", payload: { conversation: await api("POST", `/api/v1/conversations/${conv.id}/read/`) } });
      } catch (e) {
        /* stays unread; harmless */
      }
    }, 300);
  }

  function closeThread() {
    state.openId = null;
    $("thread").hidden = true;
    $("thread-empty").hidden = false;
    $("inbox").dataset.pane = "list";
    if (location.pathname !== "/inbox/") history.pushState({}, "", "/inbox/");
    document.querySelectorAll("#conversation-list .conv").forEach((row) => row.setAttribute("aria-current", "false"));
  }

  function renderThreadHeader() {
    const conv = state.conversations.get(state.openId);
    if (!conv) return;
    $("thread-name").textContent = contactName(conv);
    $("thread-channel").textContent = channelLabel(conv.channel);
    $("thread-phone").textContent = conv.contact.phone;
    const badge = windowBadge(conv);
    $("thread-window").hidden = !badge;
    if (badge) {
      $("thread-window").className = badge.className;
      $("thread-window").textContent = "window " + badge.textContent;
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
    // contact panel
    if (document.activeElement !== $("contact-name")) $("contact-name").value = conv.contact.display_name || "";
    $("contact-phone").textContent = conv.contact.phone;
    $("contact-channel").textContent = channelLabel(conv.channel);
    renderOptState($("contact-sms-state"), conv.contact.sms_opted_out_at, conv.contact.sms_opt_out_reason);
    renderOptState($("contact-wa-state"), conv.contact.whatsapp_opted_out_at, conv.contact.whatsapp_opt_out_reason);
    renderComposerState();
  }

  function renderOptState(node, at, reason) {
    node.className = at ? "opted-out" : "";
    node.textContent = at ? `Opted out ${new Date(at).toLocaleString()}${reason ? " (" + reason + ")" : ""}` : "Subscribed";
  }

  function renderAgentOptions(conv) {
    const select = $("assign-other");
    const first = el("option", "", "Assign to…");
    first.value = "";
    const options = [first];
    for (const agent of state.agents) {
      if (agent.id === state.me.id || (conv.assignee && agent.id === conv.assignee.id)) continue;
      const option = el("option", "", agent.name);
      option.value = agent.id;
      options.push(option);
    }
    select.replaceChildren(...options);
  }

  function sortedThread() {
    const real = Array.from(state.messages.values()).sort((a, b) => stamp(a.created_at) - stamp(b.created_at) || a.id - b.id);
    const pending = Array.from(state.pending.values()).filter((m) => m.conversation_id === state.openId);
    return real.concat(pending);
  }

  function renderMessages({ scroll = false } = {}) {
    const box = $("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
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
    if (scroll || nearBottom) {
      box.scrollTop = box.scrollHeight;
      state.pinnedToBottom = true;
    }
  }

  /** An image that loads after the thread scrolled down must not push the newest message out of view. */
  function keepPinnedToBottom() {
    if (state.pinnedToBottom) $("messages").scrollTop = $("messages").scrollHeight;
  }

  const FAILED = ["failed", "undelivered", "rejected"];
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

  function renderMessage(m) {
    const outbound = m.direction === "outbound";
    const li = el("li", "msg " + (outbound ? "out" : "in"));
    if (m.id) li.dataset.id = m.id;
    if (m.idempotency_key) li.dataset.key = m.idempotency_key;
    li.dataset.status = m.status || "";
    if (m.local) li.classList.add("pending");
    if (FAILED.includes(m.status) || m.local_error) li.classList.add("failed");
    const bubble = el("div", "bubble");
    const payload = m.payload || {};
    if (m.reply_to) {
      bubble.appendChild(el("div", "msg-quote", (m.reply_to.direction === "outbound" ? "You: " : "") + (m.reply_to.text || previewText(m.reply_to))));
    }
    renderBody(bubble, m, payload);
    li.appendChild(bubble);

    const meta = el("div", "msg-meta");
    const time = el("span", "msg-time", clockTime(m.created_at));
    meta.appendChild(time);
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
    } else if (m.local_error) {
      const error = el("div", "msg-error");
      error.appendChild(el("span", "", m.local_error));
      const action = el("button", "btn btn-small btn-danger", m.local_retryable ? "Retry" : "Dismiss");
      action.type = "button";
      action.dataset[m.local_retryable ? "resend" : "dismiss"] = m.idempotency_key;
      error.appendChild(action);
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
    if (m.local && !m.local_error) return Object.assign(el("span", "tick clock", "◷"), { title: "Sending" });
    if (FAILED.includes(m.status) || m.local_error) {
      const tick = el("span", "tick failed", "⚠");
      tick.title = m.local_error ? "Not sent" : "Failed";
      return tick;
    }
    const [symbol, kind, label] = TICKS[m.status] || ["◷", "clock", m.status];
    const tick = el("span", "tick " + kind, symbol);
    tick.title = label;
    tick.setAttribute("aria-label", label);
    return tick;
  }

  function buttonTitles(payload) {
    const titles = [];
    const interactive = payload.interactive || {};
    const action = interactive.action || {};
    for (const button of action.buttons || []) titles.push(button.title || button.text || (button.reply && button.reply.title));
    for (const section of action.sections || []) for (const row of section.rows || []) titles.push(row.title);
    const template = payload.template || {};
    const rendered = payload.rendered || template.rendered || {};
    for (const button of rendered.buttons || template.buttons || []) titles.push(button.text || button.title);
    return titles.filter((t) => typeof t === "string" && t);
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
        const template = payload.template || {};
        const header = (payload.rendered || {}).header;
        bubble.appendChild(el("div", "msg-label", "Template" + (template.name ? " · " + template.name : "")));
        if (header && header.media) renderMedia(bubble, [{ url: header.media, content_type: header.type === "image" ? "image/" : header.type }]);
        bubble.appendChild(el("div", "msg-text", m.text || ""));
        renderMedia(bubble, m.media);
        addButtons();
        return;
      }
      case "interactive": {
        const interactive = payload.interactive || {};
        bubble.appendChild(el("div", "msg-label", "Interactive"));
        const header = interactive.header && interactive.header.text;
        if (header) bubble.appendChild(el("div", "msg-text preview-header", header));
        bubble.appendChild(el("div", "msg-text", m.text || (interactive.body && interactive.body.text) || ""));
        if (interactive.footer && interactive.footer.text) bubble.appendChild(el("div", "muted", interactive.footer.text));
        addButtons();
        return;
      }
      case "button_reply":
      case "list_reply": {
        const reply = payload.button || payload.list_reply || payload.interactive || {};
        bubble.appendChild(el("div", "msg-label", m.kind === "button_reply" ? "Button reply" : "List reply"));
        bubble.appendChild(el("div", "msg-text", m.text || reply.text || reply.title || ""));
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
          const link = el("a", "", "Open map");
          link.href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          bubble.appendChild(link);
        }
        if (m.text && m.text !== label) bubble.appendChild(el("div", "msg-text", m.text));
        return;
      }
      case "unsupported": {
        const raw = payload.raw || {};
        const what = payload.content_type || raw.ContentType || raw.Type || "unknown";
        bubble.appendChild(el("div", "msg-placeholder", `This message type (${what}) can't be shown here. Ask the customer to send it as text or a photo.`));
        if (m.text) bubble.appendChild(el("div", "msg-text", m.text));
        return;
      }
      default:
        renderMedia(bubble, m.media);
        if (m.text) bubble.appendChild(el("div", "msg-text", m.text));
        if (!m.text && !(m.media || []).length) bubble.appendChild(el("div", "msg-placeholder", "(empty message)"));
    }
  }

  function renderMedia(bubble, media) {
    for (const item of media || []) {
      const url = safeUrl(item && item.url);
      const wrap = el("div", "msg-media");
      const type = (item && item.content_type) || "";
      if (!url) {
        wrap.appendChild(el("span", "msg-placeholder", "Attachment with an unsafe link (not opened): " + String(item && item.url)));
      } else if (type.startsWith("image/")) {
        const link = el("a");
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        const img = el("img");
        img.src = url;
        img.alt = "Image attachment (opens in a new tab)";
        img.loading = "lazy";
        img.addEventListener("load", keepPinnedToBottom);
        link.appendChild(img);
        wrap.appendChild(link);
      } else {
        const kind = type.split("/")[0] || "file";
        const link = el("a", "file", `Download ${kind}${type ? " (" + type + ")" : ""}`);
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.setAttribute("download", "");
        wrap.appendChild(link);
      }
      bubble.appendChild(wrap);
    }
  }

  // --- actions ------------------------------------------------------------------------------------------
  function showActionError(message) {
    $("action-error").textContent = message;
    $("action-error").hidden = false;
  }

  async function updateConversation(changes) {
    const id = state.openId;
    if (!id) return;
    $("action-error").hidden = true;
    try {
      const conv = await api("PATCH", `/api/v1/conversations/${id}/`, changes);
      dispatch({ type: "conversation.updated", payload: { conversation: conv } });
    } catch (e) {
      showActionError(e.message);
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
    } catch (e) {
      showActionError(e.message);
    }
  }

  async function retryMessage(id) {
    try {
      const message = await api("POST", `/api/v1/messages/${id}/retry/`);
      dispatch({ type: "message.updated", payload: { message } });
    } catch (e) {
      showActionError(e.message);
    }
  }

  // --- composer -------------------------------------------------------------------------------------------
  const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXTENDED = "^{}\\[~]|€\f";

  function smsSegments(text) {
    let septets = 0;
    let gsm = true;
    for (const ch of text) {
      if (GSM_BASIC.includes(ch)) septets += 1;
      else if (GSM_EXTENDED.includes(ch)) septets += 2;
      else {
        gsm = false;
        break;
      }
    }
    if (gsm) return { encoding: "GSM-7", units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153), perSegment: septets <= 160 ? 160 : 153 };
    const units = text.length; // UTF-16 code units
    return { encoding: "UCS-2", units, segments: units <= 70 ? 1 : Math.ceil(units / 67), perSegment: units <= 70 ? 70 : 67 };
  }

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

  function renderComposerState() {
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

  function composerError(message) {
    $("composer-error").textContent = message;
    $("composer-error").hidden = !message;
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
    let body;
    let media = [];
    if (mediaValue) {
      const url = safeUrl(mediaValue);
      if (!url || !/^https?:\/\//i.test(mediaValue)) {
        composerError("The attachment must be an http(s) URL.");
        return;
      }
      media = [{ url, content_type: "" }];
      body = { type: "media", text, media_urls: [url] };
    } else {
      body = { type: "text", text };
    }
    composerError("");
    $("composer-text").value = "";
    $("media-url").value = "";
    $("media-row").hidden = true;
    renderSegmentCounter();
    submit(conv, body, { kind: body.type, text, media });
  }

  /** Show the message at once, then POST it; the server copy replaces it by idempotency key. */
  async function submit(conv, body, look, key) {
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
      state.pending.delete(key);
    } catch (e) {
      const retryable = !(e instanceof ApiFailure) || e.status >= 500 || e.status === 429;
      dispatch({ type: "local.message.failed", payload: { key, error: e instanceof ApiFailure ? e.message : "Network problem: not sent yet.", retryable } });
    }
  }

  function resend(key) {
    const pending = state.pending.get(key);
    const conv = pending && state.conversations.get(pending.conversation_id);
    if (!pending || !conv) return;
    pending.local_error = null;
    renderMessages();
    submit(conv, pending.body, {}, key); // same key: the server never sends it twice
  }

  // --- templates ---------------------------------------------------------------------------------------------
  async function openTemplates() {
    const conv = state.conversations.get(state.openId);
    if (!conv || conv.channel !== "whatsapp") return;
    $("template-error").hidden = true;
    $("template-reason").textContent = windowState(conv).state === "closed" ? "The 24-hour window is closed: a template is the only message WhatsApp will deliver." : "Templates can be sent at any time.";
    const dialog = $("template-dialog");
    if (!dialog.open) dialog.showModal();
    if (state.templates === null) {
      try {
        const data = await api("GET", "/api/v1/templates/");
        state.templates = (Array.isArray(data) ? data : data.results || []).filter((t) => !t.status || t.status === "APPROVED");
      } catch (e) {
        templateError(e.status === 404 ? "Templates are not available on this server yet." : e.message);
        state.templates = null;
        return;
      }
    }
    const select = $("template-select");
    select.replaceChildren(
      ...state.templates.map((t, index) => {
        const option = el("option", "", `${t.name} (${t.language})`);
        option.value = index;
        return option;
      })
    );
    if (!state.templates.length) templateError("There are no approved templates yet.");
    renderTemplateFields();
  }

  function currentTemplate() {
    return state.templates && state.templates[Number($("template-select").value)];
  }

  function renderTemplateFields() {
    const template = currentTemplate();
    const fields = $("template-fields");
    fields.replaceChildren();
    if (!template) return renderTemplatePreview();
    const slots = template.parameter_slots || { header: 0, body: 0, buttons: [] };
    const group = (legend, part, count, labelFor, type) => {
      if (!count) return;
      const fieldset = el("fieldset");
      fieldset.appendChild(el("legend", "", legend));
      for (let n = 1; n <= count; n += 1) {
        const id = `tpl-${part}-${n}`;
        const label = el("label", "", labelFor(n));
        label.htmlFor = id;
        const input = el("input");
        input.type = type || "text";
        input.id = id;
        input.required = true;
        input.dataset.part = part;
        input.dataset.n = n;
        fieldset.append(label, input);
      }
      fields.appendChild(fieldset);
    };
    const mediaHeader = template.header_type && !["none", "text"].includes(template.header_type);
    group("Header", "header", slots.header, (n) => (mediaHeader ? `Header ${template.header_type} URL` : `Header {{${n}}}`), mediaHeader ? "url" : "text");
    group("Body", "body", slots.body, (n) => `Body {{${n}}}`);
    for (const button of slots.buttons || []) {
      if (!button.count) continue;
      const spec = (template.buttons || [])[button.index] || {};
      group(`Button “${spec.text || button.index}”`, `button-${button.index}`, button.count, () => "URL suffix {{1}}");
    }
    renderTemplatePreview();
  }

  function templateParameters() {
    const parameters = { header: [], body: [], buttons: {} };
    document.querySelectorAll("#template-fields input").forEach((input) => {
      const part = input.dataset.part;
      const n = Number(input.dataset.n) - 1;
      if (part === "header" || part === "body") parameters[part][n] = input.value;
      else {
        const index = part.slice("button-".length);
        (parameters.buttons[index] = parameters.buttons[index] || [])[n] = input.value;
      }
    });
    return parameters;
  }

  function fill(text, values) {
    return (text || "").replace(/\{\{\s*(\d+)\s*\}\}/g, (match, n) => {
      const value = values && values[Number(n) - 1];
      return value ? value : match;
    });
  }

  function renderTemplatePreview() {
    const template = currentTemplate();
    const preview = $("template-preview");
    preview.replaceChildren();
    if (!template) return;
    const parameters = templateParameters();
    if (template.header_type === "text") preview.appendChild(el("div", "preview-header", fill(template.header_text, parameters.header)));
    else if (template.header_type && template.header_type !== "none") preview.appendChild(el("div", "preview-header", `[${template.header_type}: ${parameters.header[0] || "URL"}]`));
    preview.appendChild(el("div", "", fill(template.body, parameters.body)));
    if (template.footer) preview.appendChild(el("div", "preview-footer", template.footer));
    const buttons = (template.buttons || []).map((b, i) => b.text + (b.type === "url" ? " → " + fill(b.url, parameters.buttons[String(i)]) : ""));
    if (buttons.length) {
      const row = el("div", "msg-buttons");
      for (const b of buttons) row.appendChild(el("span", "", b));
      preview.appendChild(row);
    }
  }

  function templateError(message) {
    $("template-error").textContent = message;
    $("template-error").hidden = !message;
  }

  function sendTemplate() {
    const conv = state.conversations.get(state.openId);
    const template = currentTemplate();
    if (!conv || !template) return;
    const empty = Array.from(document.querySelectorAll("#template-fields input")).find((input) => !input.value.trim());
    if (empty) {
      templateError("Fill in every parameter: " + (empty.labels[0] ? empty.labels[0].textContent : "a field is empty") + ".");
      empty.focus();
      return;
    }
    const parameters = templateParameters();
    const body = { type: "template", template: { name: template.name, language: template.language, parameters } };
    const previewText = $("template-preview").textContent;
    $("template-dialog").close();
    submit(conv, body, { kind: "template", text: previewText, payload: { template: { name: template.name } } });
  }

  // --- live connection ------------------------------------------------------------------------------------------
  let socket = null;
  let attempts = 0;
  let heartbeat = null;
  let lastPong = 0;
  let reconnectTimer = null;

  function setConnection(kind, text) {
    const node = $("connection");
    node.dataset.state = kind;
    node.textContent = text;
  }

  function connect() {
    if (state.signedOut) return;
    clearTimeout(reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/inbox/`);
    socket = ws;
    // Live only once the server says hello: an open socket alone proves nothing.
    const onHello = () => {
      attempts = 0;
      lastPong = Date.now();
      setConnection("live", "Live");
      catchUp();
      clearInterval(heartbeat);
      heartbeat = setInterval(() => {
        if (Date.now() - lastPong > 35000) ws.close(4000, "heartbeat lost");
        else if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, 15000);
    };
    ws.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (data.type === "pong") lastPong = Date.now();
      else if (data.type === "hello") onHello();
      else if (data.type === "session.revoked") checkSession();
      else dispatch(data);
    });
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      clearInterval(heartbeat);
      socket = null;
      if (state.signedOut) return;
      setConnection("reconnecting", "Reconnecting…");
      attempts += 1;
      if (attempts >= 2) checkSession();
      const delay = Math.min(15000, 300 * 2 ** Math.min(attempts - 1, 6)) * (0.75 + Math.random() / 2);
      reconnectTimer = setTimeout(connect, delay);
    });
  }

  async function checkSession() {
    try {
      await api("GET", "/api/v1/events/");
    } catch (e) {
      /* api() shows the signed-out banner on 401/403 */
    }
  }

  let catchingUp = false;
  async function catchUp() {
    if (catchingUp) return;
    catchingUp = true;
    try {
      let more = true;
      while (more) {
        const after = Math.max(0, state.cursor - CATCH_UP_SLACK);
        const page = await api("GET", `/api/v1/events/?after=${after}&limit=500`);
        if (page.reset) {
          state.cursor = page.last_cursor;
          $("reset-banner").hidden = false;
          setTimeout(() => ($("reset-banner").hidden = true), 4000);
          await reloadEverything();
          return;
        }
        for (const event of page.events) dispatch(event);
        if (page.last_cursor > state.cursor) state.cursor = page.last_cursor;
        more = page.events.length >= 500 - CATCH_UP_SLACK;
      }
    } catch (e) {
      /* the socket's next reconnect tries again */
    } finally {
      catchingUp = false;
    }
  }

  async function reloadEverything() {
    await loadList();
    if (state.openId) await openConversation(state.openId, { push: false });
  }

  // --- notifications ---------------------------------------------------------------------------------------------
  function maybeNotify(message, conv) {
    if (!conv || message.direction !== "inbound") return;
    if (conv.assignee && conv.assignee.id !== state.me.id) return;
    if (Date.now() - Date.parse(message.created_at) > 120000) return; // replayed history, not news
    const visibleHere = !document.hidden && conv.id === state.openId;
    if (visibleHere) return;
    if (localStorage.getItem("parley.sound") === "1") beep();
    if (localStorage.getItem("parley.notify") === "1" && "Notification" in window && Notification.permission === "granted") {
      const note = new Notification(`${contactName(conv)} (${channelLabel(conv.channel)})`, { body: previewText(message), tag: "parley-" + conv.id });
      note.onclick = () => {
        window.focus();
        openConversation(conv.id);
      };
    }
  }

  let audio = null;
  function beep() {
    try {
      audio = audio || new AudioContext();
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.25);
    } catch (e) {
      /* no audio: fine */
    }
  }

  // --- wiring ----------------------------------------------------------------------------------------------------
  function setFilter(changes) {
    Object.assign(state, changes);
    localStorage.setItem("parley.view", state.view);
    state.nextCursor = null;
    renderListChrome();
    loadList().catch((e) => showActionError(e.message));
  }

  function moveSelection(step) {
    if (!state.listIds.length) return;
    const index = state.listIds.indexOf(state.openId);
    const next = index === -1 ? 0 : Math.min(state.listIds.length - 1, Math.max(0, index + step));
    openConversation(state.listIds[next]);
    const row = rowFor(state.listIds[next]);
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  function onKey(event) {
    const target = event.target;
    const typing = target.closest && target.closest("input, textarea, select, [contenteditable=true]");
    if (event.key === "Escape" && typing) {
      target.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
    switch (event.key) {
      case "j":
        moveSelection(1);
        break;
      case "k":
        moveSelection(-1);
        break;
      case "r":
        if (state.openId && !$("composer-text").disabled) {
          event.preventDefault();
          $("composer-text").focus();
        }
        break;
      case "e":
        if (state.openId) updateConversation({ status: "resolved" });
        break;
      case "/":
        event.preventDefault();
        $("search").focus();
        break;
      case "?":
        $("shortcuts-dialog").showModal();
        break;
      default:
        return;
    }
  }

  function wire() {
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
    $("load-more").addEventListener("click", () => loadMore().catch((e) => showActionError(e.message)));
    $("conversation-list").addEventListener("scroll", (e) => {
      const list = e.target;
      if (state.nextCursor && list.scrollTop + list.clientHeight > list.scrollHeight - 200) loadMore().catch(() => {});
    });
    $("messages").addEventListener("scroll", () => {
      const box = $("messages");
      state.pinnedToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    });
    $("load-older").addEventListener("click", () => loadOlder().catch((e) => showActionError(e.message)));
    $("back-to-list").addEventListener("click", closeThread);
    $("assign-me").addEventListener("click", () => updateConversation({ assignee_id: state.me.id }));
    $("unassign").addEventListener("click", () => updateConversation({ assignee_id: null }));
    $("assign-other").addEventListener("change", (e) => {
      if (e.target.value) updateConversation({ assignee_id: Number(e.target.value) });
    });
    $("resolve").addEventListener("click", () => updateConversation({ status: "resolved" }));
    $("reopen").addEventListener("click", () => updateConversation({ status: "open" }));
    $("mark-pending").addEventListener("click", () => updateConversation({ status: "pending" }));
    $("toggle-contact").addEventListener("click", () => {
      const panel = $("contact-panel");
      panel.hidden = !panel.hidden;
      $("toggle-contact").setAttribute("aria-expanded", String(!panel.hidden));
    });
    $("contact-form").addEventListener("submit", saveContactName);
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
    $("message-list").addEventListener("click", (e) => {
      const button = e.target.closest("button");
      if (!button) return;
      if (button.dataset.retry) retryMessage(button.dataset.retry);
      else if (button.dataset.resend) resend(button.dataset.resend);
      else if (button.dataset.dismiss) {
        const pending = state.pending.get(button.dataset.dismiss);
        if (pending && pending.kind === "text" && !$("composer-text").value) $("composer-text").value = pending.text;
        dispatch({ type: "local.message.dropped", payload: { key: button.dataset.dismiss } });
      }
    });
    $("open-templates").addEventListener("click", openTemplates);
    $("template-select").addEventListener("change", renderTemplateFields);
    $("template-fields").addEventListener("input", renderTemplatePreview);
    $("template-send").addEventListener("click", sendTemplate);
    $("template-cancel").addEventListener("click", () => $("template-dialog").close());
    $("show-shortcuts").addEventListener("click", () => $("shortcuts-dialog").showModal());
    document.addEventListener("keydown", onKey);
    for (const [id, key] of [["toggle-notify", "parley.notify"], ["toggle-sound", "parley.sound"]]) {
      $(id).checked = localStorage.getItem(key) === "1";
      $(id).addEventListener("change", async (e) => {
        localStorage.setItem(key, e.target.checked ? "1" : "0");
        if (key === "parley.notify" && e.target.checked && "Notification" in window && Notification.permission === "default") {
          await Notification.requestPermission();
        }
      });
    }
    window.addEventListener("popstate", () => {
      const match = /^\/inbox\/(\d+)\/$/.exec(location.pathname);
      if (match) openConversation(match[1], { push: false });
      else closeThread();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.openId) markReadSoon();
    });
    // Relative times, window badges and the countdown move with the clock.
    setInterval(() => {
      for (const id of state.listIds) renderRow(state.conversations.get(id));
      if (state.openId) renderThreadHeader();
    }, 30000);
  }

  async function start() {
    wire();
    renderListChrome();
    connect();
    api("GET", "/api/v1/agents/")
      .then((agents) => {
        state.agents = agents;
        if (state.openId) renderThreadHeader();
      })
      .catch(() => {});
    await loadList().catch((e) => showActionError(e.message));
    if (boot.conversation_id) openConversation(boot.conversation_id, { push: false });
  }

  // Exposed for the browser tests and for debugging from the console; not used by the page.
  window.parleyInbox = { state, dispatch };
  start();
})();
