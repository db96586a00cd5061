/* The composer, and the drafts it owns: one per conversation (text, media URL, whether the
 * media row is open, the idempotency key of a send that has not been confirmed yet, and
 * whether it is a reply or a private note).
 *
 * A draft is kept in localStorage under the agent and the conversation, so it survives
 * switching conversations, a reload and signing in again. It is deleted only once the server
 * accepted the message (a 2xx answer, or the agent's own message arriving over the socket with
 * the draft's idempotency key); a refused or failed send leaves it in place with the reason.
 *
 * A private note (notes.js) is kept with its draft, so a note restored after a reload is still
 * a note: Enter adds it to the thread and never sends it to the customer.
 */

import { api } from "./api.js";
import { renderAssignmentWarning, replyMayGo } from "./assignment_warning.js";
import { clearAttachments, readyAttachments, showAttachments, wireAttachments } from "./attachments.js";
import { closeCannedPicker } from "./canned.js";
import { dispatch, on } from "./dispatch.js";
import { $, safeUrl } from "./dom.js";
import { channelLabel, contactName, count, duration, optedOut, relativeTime, windowState } from "./format.js";
import { closePicker, postNote } from "./notes.js";
import { characters, smsSegments } from "./segments.js";
import { state } from "./state.js";
import { pruneStored, store, stored } from "./storage.js";

// The server's limits (conversations/outbound.py): text, and the caption of a WhatsApp media message.
const LIMITS = { whatsapp: { text: 4096, caption: 1024 }, sms: { text: 1600, caption: 1600 } };
const DRAFT_PREFIX = `parley.draft.${state.me.id}.`;
const DRAFT_MAX_AGE_MS = 30 * 86400 * 1000;

const drafts = new Map(); // conversation id -> draft, as stored
const sending = new Set(); // conversation ids with a send on its way
const notices = new Map(); // conversation id -> why its last send did not go out
let shownId = null; // the conversation whose draft the composer shows

function emptyDraft() {
  return { text: "", mediaUrl: "", mediaOpen: false, key: null, note: false };
}

function draftFor(id) {
  if (!drafts.has(id)) {
    const kept = stored(DRAFT_PREFIX + id);
    drafts.set(id, kept && typeof kept.text === "string" ? Object.assign(emptyDraft(), kept) : emptyDraft());
  }
  return drafts.get(id);
}

function saveDraft(id, draft) {
  drafts.set(id, draft);
  const worthKeeping = draft.text || draft.mediaUrl || draft.mediaOpen || draft.key || draft.note;
  store(DRAFT_PREFIX + id, worthKeeping ? Object.assign({ savedAt: Date.now() }, draft) : null);
}

/** Forget drafts nobody came back to for a month. */
function pruneDrafts() {
  pruneStored(DRAFT_PREFIX, (draft) => Date.now() - (draft.savedAt || 0) > DRAFT_MAX_AGE_MS);
}

/** What the agent typed becomes the shown conversation's draft. */
function keepTyping() {
  if (shownId === null || sending.has(shownId)) return;
  const previous = draftFor(shownId);
  const draft = { text: $("composer-text").value, mediaUrl: $("media-url").value, mediaOpen: !$("media-row").hidden, key: null, note: previous.note };
  // An edited message is a new message; only the unchanged one may be sent again under its key.
  if (previous.text === draft.text && previous.mediaUrl === draft.mediaUrl) draft.key = previous.key;
  saveDraft(shownId, draft);
  renderCounter();
}

/** Show the draft of conversation `id` (null: none). Called before anything else when a thread opens. */
export function showDraft(id) {
  shownId = id;
  closeCannedPicker();
  const draft = id === null ? emptyDraft() : draftFor(id);
  $("composer-text").value = draft.text;
  $("media-url").value = draft.mediaUrl;
  $("media-row").hidden = !(draft.mediaOpen || draft.mediaUrl);
  showAttachments(id);
  const busy = sending.has(id);
  $("composer").setAttribute("aria-busy", String(busy));
  $("composer-text").readOnly = busy;
  $("media-url").readOnly = busy;
  if (id !== null) renderComposer();
  renderNotice();
  renderCounter();
}

function setNotice(id, message) {
  if (message) notices.set(id, message);
  else notices.delete(id);
  if (id === shownId) renderNotice();
}

function renderNotice() {
  const message = notices.get(shownId) || "";
  $("composer-error").textContent = message;
  $("composer-error").hidden = !message;
}

function renderCounter() {
  const conv = state.conversations.get(shownId);
  const text = $("composer-text").value.trim();
  const node = $("segment-counter");
  node.classList.remove("over");
  if (!conv || !text || draftFor(shownId).note) {
    node.textContent = "";
    return;
  }
  const caption = !!$("media-url").value.trim() || readyAttachments(shownId).ids.length > 0;
  const limit = LIMITS[conv.channel][caption ? "caption" : "text"];
  const length = characters(text);
  const over = length > limit;
  node.classList.toggle("over", over);
  if (conv.channel === "sms") {
    const info = smsSegments(text);
    node.textContent = `${info.units} characters · ${info.segments} SMS segment${info.segments === 1 ? "" : "s"} (${info.encoding}${info.encoding === "UCS-2" ? ": emoji or special characters halve the length" : ""})${over ? ` · over the ${count(limit)}-character limit` : ""}`;
  } else {
    node.textContent = `${count(length)} / ${count(limit)} characters${caption ? " (caption)" : ""}${over ? ` · ${count(length - limit)} too many` : ""}`;
  }
}

/** What the open conversation allows: free text, a template only (WhatsApp window closed), or nothing (opted out). */
export function renderComposer() {
  const conv = state.conversations.get(state.openId);
  if (!conv) return;
  const composer = $("composer");
  const notice = $("composer-notice");
  if (renderNoteMode(conv)) return;
  const opt = optedOut(conv);
  const win = windowState(conv);
  const blocked = !!opt;
  const templateOnly = !blocked && conv.channel === "whatsapp" && win.state === "closed";
  composer.classList.toggle("template-only", templateOnly);
  composer.dataset.mode = blocked ? "blocked" : templateOnly ? "template-only" : "free";
  $("composer-text").disabled = blocked;
  $("send").disabled = blocked;
  $("attach").disabled = blocked;
  $("attach-file").disabled = blocked;
  $("open-templates").disabled = blocked;
  $("open-templates").hidden = conv.channel !== "whatsapp";
  $("open-interactive").disabled = blocked;
  $("open-interactive").hidden = conv.channel !== "whatsapp" || templateOnly;
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
  renderAssignmentWarning(conv);
  renderCounter();
}

export function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reply or private note, as the shown draft says. In a note nothing about the customer's
 * channel applies (window, opt-out): the note never goes there. Returns whether it is a note. */
function renderNoteMode(conv) {
  const note = shownId === conv.id && draftFor(conv.id).note;
  const composer = $("composer");
  const wasNote = composer.classList.contains("note-mode");
  composer.classList.toggle("note-mode", note);
  $("mode-reply").setAttribute("aria-pressed", String(!note));
  $("mode-note").setAttribute("aria-pressed", String(note));
  $("note-hint").hidden = !note;
  $("composer-text").placeholder = note
    ? "Write a private note — @ to mention a colleague, Enter to add it"
    : "Write a reply — Enter to send, Shift+Enter for a new line";
  $("composer-text").setAttribute("aria-label", note ? "Private note" : "Reply");
  $("send").textContent = note ? "Add note" : "Send";
  if (!note) {
    closePicker();
    if (wasNote) {
      const draft = draftFor(conv.id);
      $("attach").hidden = false;
      $("attach-file").hidden = false;
      $("media-row").hidden = !(draft.mediaOpen || draft.mediaUrl);
      showAttachments(conv.id);
    }
    return false;
  }
  composer.classList.remove("template-only");
  composer.dataset.mode = "note";
  for (const id of ["composer-text", "send"]) $(id).disabled = false;
  $("send").hidden = false;
  for (const id of ["attach", "attach-file", "attachment-tray", "open-templates", "open-interactive", "media-row", "composer-notice"]) $(id).hidden = true;
  $("window-countdown").textContent = "";
  renderCounter();
  return true;
}

/** Switch the shown conversation's draft between a reply and a private note (its text stays).
 * Also while a send is on its way: what is typed next must be what the agent chose. */
export function setComposerNote(note) {
  if (shownId === null) return;
  const draft = draftFor(shownId);
  if (draft.note !== note) saveDraft(shownId, Object.assign({}, draft, { note }));
  renderComposer();
}

async function addNote(id, conv, draft, text) {
  if (!text) return;
  const key = newKey();
  sending.add(id);
  setNotice(id, "");
  showDraft(id);
  const failure = await postNote(conv, text, key);
  sending.delete(id);
  const current = draftFor(id);
  // Still a note afterwards (unless the agent switched meanwhile): a second thought for
  // colleagues must not go to the customer.
  if (!failure) saveDraft(id, Object.assign(emptyDraft(), { mediaUrl: current.mediaUrl, mediaOpen: current.mediaOpen, note: current.note }));
  else setNotice(id, failure.signedOut ? "Sign in again to add the note: it is kept here." : "Note not added: " + failure.message);
  if (id === shownId) showDraft(id);
}

/** Why a send did not go out, and what to do. */
function failureNotice(failure) {
  if (failure.signedOut) return "Sign in again to send: your reply is kept here.";
  if (failure.status === 0) return "Network problem: not sent yet. Send again once you are back online; it will not go out twice.";
  if (failure.retryable) return `Not sent yet: ${failure.message} Send again to retry; it will not go out twice.`;
  return "Not sent: " + failure.message;
}

async function sendText() {
  const id = state.openId;
  const conv = state.conversations.get(id);
  if (!conv || id !== shownId || sending.has(id)) return;
  const draft = draftFor(id);
  const text = draft.text.trim();
  if (draft.note) return addNote(id, conv, draft, text);
  const mediaValue = draft.mediaUrl.trim();
  const files = readyAttachments(id);
  if (files.uploading) {
    setNotice(id, "Wait a moment: a file is still uploading.");
    return;
  }
  if (!text && !mediaValue && !files.ids.length) return;
  const mode = $("composer").dataset.mode;
  if (mode === "blocked") return;
  if (mode === "template-only") {
    setNotice(id, "The WhatsApp window is closed: send an approved template instead.");
    return;
  }
  if (!replyMayGo(conv)) return;
  let body = { type: "text", text };
  let media = [];
  if (mediaValue) {
    const url = safeUrl(mediaValue);
    if (!url || !/^https?:\/\//i.test(mediaValue)) {
      setNotice(id, "The attachment must be an http(s) URL.");
      return;
    }
    media = [{ url, content_type: "" }];
    body = { type: "media", text, media_urls: [url] };
  }
  if (files.ids.length) {
    body = Object.assign({ type: "media", text, attachments: files.ids }, mediaValue ? { media_urls: body.media_urls } : {});
    media = media.concat(files.items.map((item) => ({ url: "", content_type: item.type, name: item.name, size: item.size, state: "sending" })));
  }
  const key = draft.key || newKey();
  saveDraft(id, Object.assign({}, draft, { key }));
  sending.add(id);
  setNotice(id, "");
  showDraft(id);
  const failure = await submit(conv, body, { kind: body.type, text, media }, key);
  sending.delete(id);
  const current = draftFor(id);
  if (!failure && files.ids.length) clearAttachments(id, files.ids);
  if (current.key === key) {
    if (!failure) saveDraft(id, Object.assign(emptyDraft(), { note: current.note }));
    else {
      // A refusal stored nothing under this key; a lost answer or an expired session may have.
      if (!failure.retryable && !failure.signedOut) saveDraft(id, Object.assign({}, current, { key: null }));
      setNotice(id, failureNotice(failure));
    }
  }
  if (id === shownId) showDraft(id);
}

/**
 * Show the message at once, then POST it; the server copy replaces it by idempotency key.
 * Resolves to null once the server accepted it, or to the ApiFailure.
 */
export async function submit(conv, body, look, key) {
  dispatch({
    type: "local.message.pending",
    payload: {
      message: Object.assign(
        { id: null, local: true, conversation_id: conv.id, direction: "outbound", status: "queued", idempotency_key: key, created_at: new Date().toISOString(), payload: {}, sent_by: { id: state.me.id, name: state.me.name } },
        look
      ),
    },
  });
  try {
    const message = await api("POST", `/api/v1/conversations/${conv.id}/messages/`, body, { "Idempotency-Key": key });
    dispatch({ type: "message.updated", payload: { message } });
    return null;
  } catch (failure) {
    dispatch({ type: "local.message.dropped", payload: { key } });
    return failure;
  }
}

/** Other files are another message: the key of an unconfirmed send no longer applies. */
function attachmentsChanged(filesChanged) {
  if (filesChanged && shownId !== null && !sending.has(shownId) && draftFor(shownId).key) saveDraft(shownId, Object.assign({}, draftFor(shownId), { key: null }));
  renderCounter();
}

export function wireComposer() {
  pruneDrafts();
  wireAttachments(attachmentsChanged);
  $("composer-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendText();
    }
  });
  $("composer-text").addEventListener("input", keepTyping);
  $("media-url").addEventListener("input", keepTyping);
  $("send").addEventListener("click", sendText);
  $("mode-reply").addEventListener("click", () => setComposerNote(false));
  $("mode-note").addEventListener("click", () => {
    setComposerNote(true);
    $("composer-text").focus();
  });
  // Chatwoot's keys. Only the plain letter counts: Alt+L types "@" on some layouts (macOS German).
  $("composer-text").addEventListener("keydown", (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const letter = e.key.toLowerCase();
    if (letter === "p" || letter === "l") {
      e.preventDefault();
      setComposerNote(letter === "p");
    }
  });
  $("attach").addEventListener("click", () => {
    $("media-row").hidden = false;
    keepTyping();
    $("media-url").focus();
  });
  $("media-clear").addEventListener("click", () => {
    if (sending.has(shownId)) return;
    $("media-url").value = "";
    $("media-row").hidden = true;
    keepTyping();
  });
  // Sent from another tab, or accepted although this tab never heard the answer.
  on("own-message", (message) => {
    const id = message.conversation_id;
    if (draftFor(id).key !== message.idempotency_key) return;
    saveDraft(id, Object.assign(emptyDraft(), { note: draftFor(id).note }));
    setNotice(id, "");
    if (id === shownId && !sending.has(id)) showDraft(id);
  });
  on("conversation", (conv) => conv.id === state.openId && renderComposer());
  on("contact", (conv) => conv.id === state.openId && renderComposer());
}
