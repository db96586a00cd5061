/* Canned replies in the composer: typing "/" at the start of a reply (or the Replies button)
 * opens a picker filtered as you type; arrow keys choose, Enter or a click inserts the reply
 * with its placeholders filled by the server for this conversation and agent, Escape closes.
 *
 * While the picker is open it owns the arrow keys, Enter and Escape: its listener runs in the
 * capture phase on the composer, before the textarea's Enter-to-send. A canned reply is
 * free text, so when only a template can be sent (WhatsApp window closed) the picker says so
 * instead of offering replies.
 */

import { api } from "./api.js";
import { on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

const TRIGGER = /^\/(\S*)$/; // the whole reply so far is "/" and a word: the picker's query
const SEARCH_DELAY_MS = 120;

const picker = {
  open: false,
  query: null, // what the agent typed after "/"
  resultsFor: null, // the query `results` answer
  results: [],
  active: 0,
  token: 0,
  timer: null,
  replacesTrigger: false, // opened by typing "/": the reply replaces it
  insertWhenAnswered: false, // Enter came before the answer for the latest query
};

const text = () => $("composer-text");

function mode() {
  return $("composer").dataset.mode || "free";
}

function setOpen(open) {
  picker.open = open;
  $("canned-picker").hidden = !open;
  $("open-canned").setAttribute("aria-expanded", String(open));
  if (open) text().setAttribute("aria-controls", "canned-options");
  else {
    clearTimeout(picker.timer);
    picker.token += 1; // an answer still on its way is dropped
    picker.query = picker.resultsFor = null;
    picker.insertWhenAnswered = false;
    if ($("canned-picker").contains(document.activeElement)) $("open-canned").focus();
    text().removeAttribute("aria-activedescendant");
    text().removeAttribute("aria-controls");
  }
}

export function closeCannedPicker() {
  if (picker.open) setOpen(false);
}

function openPicker(query, { replacesTrigger }) {
  picker.replacesTrigger = replacesTrigger;
  if (!picker.open) {
    picker.results = [];
    picker.active = 0;
    setOpen(true);
  }
  if (mode() === "template-only") {
    renderTemplateOnly();
    return;
  }
  $("canned-notice").hidden = true;
  if (query === picker.query) return;
  picker.query = query;
  $("canned-query").textContent = query ? `Canned replies matching “${query}”` : "Canned replies";
  clearTimeout(picker.timer);
  picker.timer = setTimeout(() => search(query), SEARCH_DELAY_MS);
}

async function search(query) {
  clearTimeout(picker.timer);
  const token = ++picker.token;
  const conversationId = state.openId;
  const params = new URLSearchParams({ q: query, limit: "8", conversation_id: String(conversationId) });
  try {
    const results = await api("GET", "/api/v1/canned-replies/?" + params);
    if (token !== picker.token || !picker.open || conversationId !== state.openId) return;
    picker.results = results;
    picker.resultsFor = query;
    picker.active = 0;
    renderOptions();
    if (picker.insertWhenAnswered) {
      picker.insertWhenAnswered = false;
      insert(0);
    }
  } catch (failure) {
    if (token !== picker.token) return;
    picker.results = [];
    picker.insertWhenAnswered = false;
    renderOptions(failure.message);
  }
}

function renderOptions(error) {
  const items = picker.results.map((reply, index) => {
    const item = el("li", "canned-option");
    item.id = "canned-option-" + index;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", String(index === picker.active));
    item.dataset.index = index;
    const head = el("div", "canned-option-head");
    head.append(el("span", "canned-shortcut", "/" + reply.shortcut), el("span", "canned-title", reply.title));
    item.append(head, el("div", "canned-text", reply.filled_text || reply.text));
    return item;
  });
  $("canned-options").replaceChildren(...items);
  const empty = !items.length;
  $("canned-empty").hidden = !empty;
  $("canned-empty").textContent = error || (picker.query ? `No canned reply matches “${picker.query}”.` : "No canned replies yet: staff add them in the admin.");
  if (empty) text().removeAttribute("aria-activedescendant");
  else {
    text().setAttribute("aria-activedescendant", "canned-option-" + picker.active);
    items[picker.active].scrollIntoView({ block: "nearest" });
  }
}

function renderTemplateOnly() {
  picker.results = [];
  $("canned-query").textContent = "Canned replies";
  $("canned-options").replaceChildren();
  $("canned-empty").hidden = true;
  $("canned-notice").hidden = false;
}

function move(step) {
  if (!picker.results.length) return;
  picker.active = (picker.active + step + picker.results.length) % picker.results.length;
  renderOptions();
}

/** Put the chosen reply in the composer: in place of the "/query" that opened the picker, else at the caret. */
function insert(index) {
  const reply = picker.results[index];
  if (!reply) return;
  const filled = reply.filled_text || reply.text;
  const box = text();
  if (picker.replacesTrigger && TRIGGER.test(box.value)) {
    box.value = filled;
    box.setSelectionRange(filled.length, filled.length);
  } else {
    box.setRangeText(filled, box.selectionStart, box.selectionEnd, "end");
  }
  setOpen(false);
  box.focus();
  box.dispatchEvent(new Event("input", { bubbles: true })); // the composer keeps it as the draft
}

function onComposerKey(event) {
  if (!picker.open || event.isComposing) return;
  const inText = event.target === text();
  let action = null;
  if (event.key === "Escape") action = () => setOpen(false);
  else if (inText && event.key === "ArrowDown") action = () => move(1);
  else if (inText && event.key === "ArrowUp") action = () => move(-1);
  else if (inText && event.key === "Enter" && !event.shiftKey) {
    // Never sent as typed: "/refnd" with no match stays in the composer.
    action = () => {
      if (picker.resultsFor === picker.query) insert(picker.active);
      else {
        picker.insertWhenAnswered = true;
        search(picker.query);
      }
    };
  }
  if (!action) return;
  event.preventDefault();
  event.stopPropagation(); // neither the composer's Enter-to-send nor the page's Escape
  action();
}

function onTyping() {
  const match = TRIGGER.exec(text().value);
  if (match) openPicker(match[1], { replacesTrigger: true });
  else if (picker.open && picker.replacesTrigger) setOpen(false);
}

function onButton() {
  if (picker.open) {
    setOpen(false);
    return;
  }
  if (mode() !== "template-only" && !text().value) {
    text().value = "/";
    text().focus();
    text().dispatchEvent(new Event("input", { bubbles: true }));
    return;
  }
  openPicker("", { replacesTrigger: false });
  if (mode() !== "template-only") text().focus();
  else $("canned-choose-template").focus();
}

export function wireCanned() {
  $("composer").addEventListener("keydown", onComposerKey, true);
  text().addEventListener("input", onTyping);
  $("open-canned").addEventListener("click", onButton);
  $("canned-options").addEventListener("mousedown", (event) => event.preventDefault()); // keep the textarea's focus
  $("canned-options").addEventListener("click", (event) => {
    const item = event.target.closest(".canned-option");
    if (item) insert(Number(item.dataset.index));
  });
  $("canned-choose-template").addEventListener("click", () => {
    setOpen(false);
    $("open-templates").click();
  });
  document.addEventListener("click", (event) => {
    if (picker.open && !event.target.closest("#canned-picker, #open-canned, #composer-text")) setOpen(false);
  });
  // The window closing (or the customer opting out) under an open picker.
  on("conversation", (conv) => {
    if (!picker.open || conv.id !== state.openId) return;
    if (mode() === "template-only") renderTemplateOnly();
    else if (mode() === "blocked") setOpen(false);
  });
}
