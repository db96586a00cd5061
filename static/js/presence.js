/* Collision safety, part one: who else has this conversation open ("Alice is viewing") or is
 * typing in it ("Alice is typing…").
 *
 * Through the socket only, never stored: while a conversation is open and the tab visible,
 * the page says "viewing" every few seconds, and "typing" at most as often while the agent
 * types. The server passes each notice on with how long it holds (expires_in); a page shows a
 * colleague's state until it expires or they say "left", so a closed laptop clears itself. */

import { on } from "./dispatch.js";
import { $ } from "./dom.js";
import { socketSend } from "./socket.js";
import { state } from "./state.js";

const HEARTBEAT_MS = 2500; // below the server's expires_in (5 s), above its repeat throttle (2 s)
const TYPING_IDLE_MS = 3000; // no keystroke for this long: no longer typing
const CHECK_MS = 500;

// conversation id -> user id -> {name, viewingUntil, typingUntil} (milliseconds, this clock)
const seen = new Map();
let announced = null; // the conversation this page last said it views
let lastTypedAt = 0;
let lastSent = { viewing: 0, typing: 0 };

function send(conversationId, presenceState) {
  if (socketSend({ type: "presence", conversation_id: conversationId, state: presenceState })) {
    if (presenceState !== "left") lastSent[presenceState] = Date.now();
  }
}

/** The conversation this page is looking at now: open, and the tab visible. */
function looking() {
  return document.hidden ? null : state.openId;
}

/** Runs often: says "left" / "viewing" on a change, and repeats what still holds. */
function tick() {
  const now = Date.now();
  const current = looking();
  if (current !== announced) {
    if (announced !== null) send(announced, "left");
    announced = current;
    lastSent = { viewing: 0, typing: 0 };
  }
  if (current === null) return;
  if (now - lastSent.viewing >= HEARTBEAT_MS) send(current, "viewing");
  const typing = now - lastTypedAt < TYPING_IDLE_MS && $("composer-text").value.trim();
  if (typing && now - lastSent.typing >= HEARTBEAT_MS) send(current, "typing");
}

function typed() {
  if (!$("composer-text").value.trim()) {
    lastTypedAt = 0; // emptied (or sent): others see the typing expire
    return;
  }
  lastTypedAt = Date.now();
  tick();
}

function received(event) {
  const { user, conversation_id: id, expires_in: seconds } = event;
  if (!user || user.id === state.me.id) return; // my other tabs
  if (!seen.has(id)) seen.set(id, new Map());
  const people = seen.get(id);
  if (event.state === "left") {
    people.delete(user.id);
  } else {
    const entry = people.get(user.id) || { name: user.name, viewingUntil: 0, typingUntil: 0 };
    const until = Date.now() + seconds * 1000;
    entry.name = user.name;
    entry.viewingUntil = Math.max(entry.viewingUntil, until);
    if (event.state === "typing") entry.typingUntil = until;
    people.set(user.id, entry);
  }
  render();
}

function names(list) {
  if (list.length <= 2) return list.join(" and ");
  return `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

/** "Alice is typing… · Bob is viewing" for the open conversation; expired entries are dropped. */
export function presenceText(conversationId, now = Date.now()) {
  const people = seen.get(conversationId);
  if (!people) return "";
  const typing = [];
  const viewing = [];
  for (const [userId, entry] of people) {
    if (entry.viewingUntil <= now && entry.typingUntil <= now) {
      people.delete(userId);
      continue;
    }
    (entry.typingUntil > now ? typing : viewing).push(entry.name);
  }
  const parts = [];
  if (typing.length) parts.push(`${names(typing)} ${typing.length === 1 ? "is" : "are"} typing…`);
  if (viewing.length) parts.push(`${names(viewing)} ${viewing.length === 1 ? "is" : "are"} viewing`);
  return parts.join(" · ");
}

function render() {
  const text = state.openId ? presenceText(state.openId) : "";
  const node = $("presence");
  if (node.textContent !== text) node.textContent = text;
  node.hidden = !text;
}

export function wirePresence() {
  on("presence", received);
  $("composer-text").addEventListener("input", typed);
  document.addEventListener("visibilitychange", tick);
  window.addEventListener("pagehide", () => announced !== null && send(announced, "left"));
  setInterval(() => {
    tick();
    render(); // expiry, and the thread switching
  }, CHECK_MS);
}
