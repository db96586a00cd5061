/* The single update path. Everything that changes what the page shows goes through
 * dispatch(event): events pushed by the WebSocket, events replayed after a reconnect, and the
 * answers to this tab's own requests. Applying an event is idempotent (an older snapshot never
 * overwrites a newer one), so the same event may arrive twice (socket + replay) without harm.
 *
 * dispatch() changes the state, then tells the views what changed; a view subscribes with
 * on(change, listener). The changes:
 *   "conversation"    (conv)          a newer snapshot of a conversation was stored
 *   "contact"         (conv)          the contact of this conversation changed
 *   "message"         (message)       a newer snapshot of a message of the open thread was stored
 *   "own-message"     (message)       the server holds this message sent by the signed-in agent
 *   "message.arrived" ({message, conversation})  a message that is news (for notifications)
 *   "pending"         ({conversationId, sent})   optimistic messages were added or dropped
 *   "presence"        (event)         a colleague views, types in or left a conversation (never stored)
 *   "notification.created" / "notifications.read"  (payload)  the signed-in agent's own mentions
 *   "labels"          ({label, previous_name})  staff added, renamed, recoloured or deleted a label
 *   "connected"       ()              the socket is live again: refetch what it does not replay
 */

import { stamp } from "./format.js";
import { state, takeSnapshot } from "./state.js";

const listeners = new Map();

export function on(change, listener) {
  if (!listeners.has(change)) listeners.set(change, []);
  listeners.get(change).push(listener);
}

function changed(change, detail) {
  for (const listener of listeners.get(change) || []) listener(detail);
}

export function dispatch(event) {
  // Answers to this tab's own requests carry no cursor: they are as fresh as everything applied.
  const cursor = event.cursor || state.cursor;
  if (event.cursor && event.cursor > state.cursor) state.cursor = event.cursor;
  const payload = event.payload || {};
  switch (event.type) {
    case "message.created": {
      const fresh = applyConversation(payload.conversation, cursor);
      const known = state.messages.has(payload.message.id);
      applyMessage(payload.message, cursor);
      if (fresh && !known) changed("message.arrived", { message: payload.message, conversation: state.conversations.get(payload.message.conversation_id) });
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
    case "presence":
      changed("presence", event);
      break;
    case "local.message.pending":
      state.pending.set(payload.message.idempotency_key, payload.message);
      changed("pending", { conversationId: payload.message.conversation_id, sent: true });
      break;
    case "local.message.dropped": {
      const dropped = state.pending.get(payload.key);
      if (!dropped) break;
      state.pending.delete(payload.key);
      changed("pending", { conversationId: dropped.conversation_id, sent: false });
      break;
    }
    case "notification.created":
    case "notifications.read":
      changed(event.type, payload);
      break;
    case "labels.changed":
      applyLabelChange(payload);
      changed("labels", payload);
      break;
    case "local.connected":
      changed("connected");
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
  changed("conversation", conv);
  return !current || stamp(current.updated_at) < stamp(conv.updated_at);
}

function applyContact(contact, cursor) {
  if (!contact) return;
  if (cursor < (state.contactCursor.get(contact.id) || 0)) return;
  state.contactCursor.set(contact.id, cursor);
  for (const conv of state.conversations.values()) {
    if (conv.contact.id === contact.id) {
      conv.contact = contact;
      changed("contact", conv);
    }
  }
}

/** A renamed or recoloured label changes on every conversation that carries it; a deleted one
 * comes off. Conversations snapshots that arrive later carry the new summaries themselves. */
function applyLabelChange({ label, previous_name: previous }) {
  const key = (previous || (label && label.name) || "").toLowerCase();
  if (!key) return;
  if (label && state.label.toLowerCase() === key) state.label = label.name; // the list's filter follows a rename
  for (const conv of state.conversations.values()) {
    const labels = conv.labels || [];
    if (!labels.some((l) => l.name.toLowerCase() === key)) continue;
    conv.labels = labels.flatMap((l) => (l.name.toLowerCase() === key ? (label ? [label] : []) : [l]));
    changed("conversation", conv);
  }
}

function applyMessage(message, cursor) {
  if (!message) return;
  const own = message.direction === "outbound" && message.sent_by && message.sent_by.id === state.me.id;
  if (own && message.idempotency_key) {
    state.pending.delete(message.idempotency_key); // the server copy replaces the optimistic one
    changed("own-message", message);
  }
  if (message.kind === "note" && message.author && message.author.id === state.me.id) dropPendingNote(message);
  if (message.conversation_id !== state.openId) return;
  if (!takeSnapshot("m:" + message.id, state.messages.get(message.id), message, cursor)) return;
  state.messages.set(message.id, message);
  changed("message", message);
}

/** The server's copy of my note replaces the one shown while it was saved (notes carry no key). */
function dropPendingNote(note) {
  for (const [key, pending] of state.pending) {
    if (pending.kind === "note" && pending.conversation_id === note.conversation_id && pending.text === note.text) {
      state.pending.delete(key);
      changed("pending", { conversationId: note.conversation_id, sent: false });
      return;
    }
  }
}
