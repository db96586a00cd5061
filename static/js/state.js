/* What the page knows, in one object: filled from the bootstrap data and the REST answers, and
 * changed by dispatch(). Also the rule for which of two snapshots of an object is newer. */

import { stamp } from "./format.js";

export const boot = JSON.parse(document.getElementById("inbox-bootstrap").textContent);

export const state = {
  me: boot.user,
  view: localStorage.getItem("parley.view") || "all",
  status: "open",
  channel: "",
  label: "", // the list's label filter (a label's name)
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
  pending: new Map(), // idempotency key -> optimistic message, until the server's copy arrives
  olderCursor: null,
  cursor: boot.event_cursor || 0, // highest event cursor applied
  agents: new Map(), // id -> {id, username, name}: active agents and staff
  templates: null,
  signedOut: false,
};

/**
 * Whether a snapshot may replace the one held: a later updated_at wins; on a tie the one
 * from the later event (or REST answer, counted as of the events applied when it was asked
 * for) wins, so a replayed old event never undoes a newer state.
 */
export function takeSnapshot(key, current, incoming, cursor) {
  if (current) {
    const held = stamp(current.updated_at);
    const offered = stamp(incoming.updated_at);
    if (offered < held) return false;
    if (offered === held && cursor < (state.snapshotCursor.get(key) || 0)) return false;
  }
  state.snapshotCursor.set(key, cursor);
  return true;
}

/** A REST answer is as fresh as the events applied when it was requested. */
export function storeFetched(conv, cursorAtFetch) {
  if (!takeSnapshot("c:" + conv.id, state.conversations.get(conv.id), conv, cursorAtFetch)) return;
  state.conversations.set(conv.id, conv);
  if (cursorAtFetch > (state.contactCursor.get(conv.contact.id) || 0)) state.contactCursor.set(conv.contact.id, cursorAtFetch);
}
