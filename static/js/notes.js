/* Private notes: how a note is drawn in the thread, adding one, and the @ picker that lists
 * colleagues while a note is typed.
 *
 * A note goes to POST /api/v1/conversations/{id}/notes/ and nowhere else: never through the
 * send path, so no channel rule (the WhatsApp window, an opt-out) applies and nothing can
 * reach the customer. Its text reaches the DOM only as text; a name is drawn as a mention only
 * when the server says the note mentions that agent (payload.mentions).
 */

import { api } from "./api.js";
import { dispatch } from "./dispatch.js";
import { $, el } from "./dom.js";
import { clockTime } from "./format.js";
import { state } from "./state.js";

const MENTION = /(^|[^\w.@+-])@([\w.@+-]+)/g;
const TRAILING = /[.@+-]+$/;
const PICKER_SIZE = 8;

/** Add `text` as a note to `conv`, shown at once. Resolves to null once stored, or to the ApiFailure. */
export async function postNote(conv, text, key) {
  dispatch({
    type: "local.message.pending",
    payload: {
      message: {
        id: null, local: true, conversation_id: conv.id, direction: "internal", kind: "note", status: "", text,
        payload: {}, idempotency_key: key, created_at: new Date().toISOString(),
        author: { id: state.me.id, name: state.me.name }, sent_by: { id: state.me.id, name: state.me.name },
      },
    },
  });
  try {
    const note = await api("POST", `/api/v1/conversations/${conv.id}/notes/`, { text }, { "Idempotency-Key": key });
    dispatch({ type: "message.updated", payload: { message: note } });
    return null;
  } catch (failure) {
    return failure;
  } finally {
    dispatch({ type: "local.message.dropped", payload: { key } });
  }
}

export function renderNote(m) {
  const li = el("li", "msg note");
  if (m.id) li.dataset.id = m.id;
  if (m.local) li.classList.add("pending");
  const bubble = el("div", "bubble");
  const label = el("div", "note-label");
  label.appendChild(el("span", "note-tag", "Private note"));
  label.appendChild(el("span", "note-author", m.author ? m.author.name : "A former agent"));
  bubble.appendChild(label);
  bubble.appendChild(noteText(m));
  li.appendChild(bubble);
  const meta = el("div", "msg-meta");
  meta.appendChild(el("span", "msg-time", clockTime(m.created_at)));
  meta.appendChild(el("span", "", m.local ? "Saving…" : "Only agents see this"));
  li.appendChild(meta);
  return li;
}

/** The text, with each @name the server resolved to an agent marked (yours stands out). */
function noteText(m) {
  const node = el("div", "msg-text");
  const mentioned = new Map(((m.payload || {}).mentions || []).map((who) => [who.username.toLowerCase(), who]));
  let at = 0;
  for (const match of m.text.matchAll(MENTION)) {
    const start = match.index + match[1].length;
    let name = match[2];
    let who = mentioned.get(name.toLowerCase());
    if (!who && TRAILING.test(name)) {
      name = name.replace(TRAILING, "");
      who = mentioned.get(name.toLowerCase());
    }
    if (!who) continue;
    node.appendChild(document.createTextNode(m.text.slice(at, start)));
    const chip = el("span", "mention" + (who.id === state.me.id ? " mention-me" : ""), "@" + name);
    chip.title = (state.agents.get(who.id) || {}).name || who.username;
    node.appendChild(chip);
    at = start + 1 + name.length;
  }
  node.appendChild(document.createTextNode(m.text.slice(at)));
  return node;
}

// --- the @ picker ------------------------------------------------------------------------------
const picker = { open: false, start: 0, options: [], active: 0 };

/** The "@query" just before the caret, if the agent is typing a name. */
function typedName(textarea) {
  const before = textarea.value.slice(0, textarea.selectionStart);
  const match = /(^|[^\w.@+-])@([\w.+-]*)$/.exec(before);
  if (!match || textarea.selectionStart !== textarea.selectionEnd) return null;
  return { start: before.length - match[2].length - 1, query: match[2].toLowerCase() };
}

function colleaguesMatching(query) {
  const matches = [];
  for (const agent of state.agents.values()) {
    if (agent.id === state.me.id) continue;
    const username = agent.username.toLowerCase();
    const name = (agent.name || "").toLowerCase();
    if (username.startsWith(query)) matches.push([0, agent]);
    else if (name.split(/\s+/).some((word) => word.startsWith(query))) matches.push([1, agent]);
  }
  matches.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name));
  return matches.slice(0, PICKER_SIZE).map(([, agent]) => agent);
}

function closePicker() {
  picker.open = false;
  $("mention-picker").hidden = true;
  const textarea = $("composer-text");
  textarea.setAttribute("aria-expanded", "false");
  if (textarea.getAttribute("aria-controls") === "mention-picker") {
    textarea.removeAttribute("aria-controls");
    textarea.removeAttribute("aria-activedescendant");
  }
}

function renderPicker() {
  const list = $("mention-picker");
  list.replaceChildren();
  picker.options.forEach((agent, index) => {
    const option = el("li", "mention-option");
    option.id = "mention-option-" + agent.id;
    option.setAttribute("role", "option");
    option.setAttribute("aria-selected", String(index === picker.active));
    option.dataset.index = index;
    option.appendChild(el("span", "mention-option-name", agent.name));
    option.appendChild(el("span", "muted", "@" + agent.username));
    list.appendChild(option);
  });
  list.hidden = false;
  $("composer-text").setAttribute("aria-controls", "mention-picker");
  $("composer-text").setAttribute("aria-expanded", "true");
  $("composer-text").setAttribute("aria-activedescendant", "mention-option-" + picker.options[picker.active].id);
}

function updatePicker() {
  const textarea = $("composer-text");
  const typed = $("composer").dataset.mode === "note" ? typedName(textarea) : null;
  const options = typed ? colleaguesMatching(typed.query) : [];
  if (!options.length) {
    closePicker();
    return;
  }
  const keep = picker.open && picker.start === typed.start ? picker.options[picker.active] : null;
  picker.open = true;
  picker.start = typed.start;
  picker.options = options;
  picker.active = Math.max(0, keep ? options.findIndex((agent) => agent.id === keep.id) : 0);
  renderPicker();
}

function insertMention(agent) {
  const textarea = $("composer-text");
  const end = textarea.selectionStart;
  const inserted = "@" + agent.username + " ";
  textarea.setRangeText(inserted, picker.start, end, "end");
  closePicker();
  textarea.focus();
  textarea.dispatchEvent(new Event("input")); // the composer keeps the draft
}

/** Keys the open picker takes before the composer sees them (Enter picks instead of sending). */
function onPickerKey(event) {
  if (!picker.open || event.target !== $("composer-text") || event.isComposing) return;
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key in moves) {
    picker.active = (picker.active + moves[event.key] + picker.options.length) % picker.options.length;
    renderPicker();
  } else if (event.key === "Enter" || event.key === "Tab") {
    insertMention(picker.options[picker.active]);
  } else if (event.key === "Escape") {
    closePicker();
  } else {
    return;
  }
  event.preventDefault();
  event.stopPropagation();
}

export function wireNotes() {
  const textarea = $("composer-text");
  // Captured on the composer, so the picker handles its keys before the textarea's own listeners.
  $("composer").addEventListener("keydown", onPickerKey, true);
  textarea.addEventListener("input", updatePicker);
  textarea.addEventListener("click", updatePicker);
  textarea.addEventListener("blur", closePicker);
  $("mention-picker").addEventListener("mousedown", (event) => {
    const option = event.target.closest("[data-index]");
    if (!option) return;
    event.preventDefault(); // keep the focus (and the caret) in the textarea
    insertMention(picker.options[Number(option.dataset.index)]);
  });
}

export { closePicker };
