/* Collision safety, part two: a reply to a conversation a colleague holds. The composer says
 * "Assigned to Bob – reply anyway?" before anything is sent; the first Enter (or Send) only
 * asks, the second sends. Inline, so the agent keeps typing and never leaves the keyboard. */

import { $ } from "./dom.js";
import { state } from "./state.js";

const confirmed = new Set(); // "<conversation id>:<assignee id>": this agent chose to reply anyway
let armed = null; // the same key, once a send was stopped to ask

function holder(conv) {
  return conv && conv.assignee && conv.assignee.id !== state.me.id ? conv.assignee : null;
}

function keyOf(conv) {
  return `${conv.id}:${conv.assignee.id}`;
}

/** Whether a reply to `conv` may go now; if not, the warning asks and the next try sends. */
export function replyMayGo(conv) {
  const assignee = holder(conv);
  if (!assignee || confirmed.has(keyOf(conv))) return true;
  if (armed === keyOf(conv)) {
    confirmed.add(armed);
    armed = null;
    renderAssignmentWarning(conv);
    return true;
  }
  armed = keyOf(conv);
  renderAssignmentWarning(conv);
  return false;
}

export function renderAssignmentWarning(conv) {
  const assignee = holder(conv);
  const shown = !!assignee && !confirmed.has(keyOf(conv));
  $("assignment-warning").hidden = !shown;
  if (!shown) return;
  const asking = armed === keyOf(conv);
  $("assignment-warning").classList.toggle("asking", asking);
  $("assignment-warning-text").textContent = asking
    ? `Assigned to ${assignee.name} – reply anyway? Press Enter again to send.`
    : `Assigned to ${assignee.name} – reply anyway?`;
}

export function wireAssignmentWarning() {
  $("reply-anyway").addEventListener("click", () => {
    const conv = state.conversations.get(state.openId);
    if (!holder(conv)) return;
    armed = keyOf(conv);
    $("composer-text").focus();
    $("send").click(); // armed: this send goes
  });
  // Typing Escape in the composer takes the question back.
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && armed) {
      armed = null;
      renderAssignmentWarning(state.conversations.get(state.openId));
    }
  });
}
