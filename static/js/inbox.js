/* Parley agent inbox: start-up. ES modules served as files, no build step, no inline script
 * (the CSP forbids it). Each module has one job:
 *
 *   state.js          what the page knows; which of two snapshots is newer
 *   dispatch.js       the one update path: dispatch(event) switch, on(change) for the views
 *   api.js            the REST client, one error path (ApiFailure)
 *   list.js           the conversation list
 *   thread.js         the open conversation and following its newest message
 *   header.js         its header, the contact panel and the conversation's actions
 *   consent.js        the contact panel's opt-in/out buttons, consent history, staff data download
 *   messages.js       how one message is drawn
 *   composer.js       the composer and its drafts; sending; reply or private note
 *   notes.js          how a private note is drawn, adding one, the @ picker
 *   mentions.js       the agent's mentions: badge, list, browser notification
 *   templates.js      the WhatsApp template dialog
 *   attachments.js    files from the agent's computer: checked, uploaded, the composer's tray
 *   new_conversation.js  "New conversation": a number and a channel, the first message
 *   interactive.js    the reply-buttons / list / link-button dialog, with its preview
 *   labels.js         label chips, the label picker and the list's label filter
 *   canned.js         the composer's canned-reply picker ("/")
 *   socket.js         the live connection and catching up
 *   notifications.js  browser notifications and sound
 *   activity.js       activity entries in the thread ("Resolved by Alice")
 *   snooze.js         snooze presets, their menu, how a snooze is shown
 *   bulk.js           row checkboxes and the bulk bar
 *   presence.js       "Alice is viewing" / "Alice is typing…" through the socket
 *   assignment_warning.js  "Assigned to Bob – reply anyway?" before a reply
 *   storage.js        what is kept in localStorage (drafts, the tray): read, written, pruned
 *   dom.js format.js segments.js   helpers (dom.js is shared with the simulator's phone)
 *
 * Attacker-controlled text (names, messages, URLs) only ever reaches the DOM via textContent
 * or checked http(s) URLs; no module uses innerHTML.
 */

import { api } from "./api.js";
import { wireAssignmentWarning } from "./assignment_warning.js";
import { wireBulk } from "./bulk.js";
import { wireCanned } from "./canned.js";
import { wireConsent } from "./consent.js";
import { renderComposer, setComposerNote, wireComposer } from "./composer.js";
import { dispatch } from "./dispatch.js";
import { $ } from "./dom.js";
import { contactPanelOpen, openSnoozeMenu, renderThreadHeader, setContactPanel, showActionError, updateConversation, wireHeader } from "./header.js";
import { openLabelPicker, wireLabels } from "./labels.js";
import { loadList, renderRows, rowFor, setFilter, wireList } from "./list.js";
import { wireInteractive } from "./interactive.js";
import { wireMentions } from "./mentions.js";
import { wireNewConversation } from "./new_conversation.js";
import { wireNotes } from "./notes.js";
import { wireNotifications } from "./notifications.js";
import { wirePresence } from "./presence.js";
import { connect, wireSocket } from "./socket.js";
import { boot, state } from "./state.js";
import { wireTemplates } from "./templates.js";
import { closeThread, openConversation, redrawMessages, wireThread } from "./thread.js";

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
  if (event.key === "Escape" && contactPanelOpen() && !document.querySelector("dialog[open]") && (!typing || $("contact-panel").contains(target))) {
    setContactPanel(false);
    return;
  }
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
    case "n":
      if (state.openId) {
        event.preventDefault();
        setComposerNote(event.key === "n");
        if (!$("composer-text").disabled) $("composer-text").focus();
      }
      break;
    case "e":
      if (state.openId) updateConversation({ status: "resolved" });
      break;
    case "z":
      openSnoozeMenu();
      break;
    case "l":
      if (state.openId) {
        event.preventDefault();
        openLabelPicker();
      }
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
  wireList();
  wireThread();
  wireHeader();
  wireConsent();
  wireComposer();
  wireNotes();
  wireMentions();
  wireTemplates();
  wireNewConversation();
  wireInteractive();
  wireLabels(setFilter);
  wireCanned();
  wireNotifications();
  wireSocket();
  wireBulk();
  wirePresence();
  wireAssignmentWarning();
  $("show-shortcuts").addEventListener("click", () => $("shortcuts-dialog").showModal());
  document.addEventListener("keydown", onKey);
  window.addEventListener("popstate", () => {
    const match = /^\/inbox\/(\d+)\/$/.exec(location.pathname);
    if (match) openConversation(match[1], { push: false });
    else closeThread();
  });
  // Relative times, window badges and the countdown move with the clock.
  setInterval(() => {
    renderRows();
    if (state.openId) {
      renderThreadHeader();
      renderComposer();
    }
  }, 30000);
}

async function start() {
  wire();
  connect();
  api("GET", "/api/v1/agents/")
    .then((agents) => {
      state.agents = new Map(agents.map((agent) => [agent.id, agent]));
      renderRows(); // "Bob: …" in previews and quotes needs the names
      redrawMessages();
      if (state.openId) renderThreadHeader();
    })
    .catch(() => {});
  await loadList().catch((failure) => showActionError(failure.message));
  if (boot.conversation_id) openConversation(boot.conversation_id, { push: false });
}

// Exposed for the browser tests and for debugging from the console; not used by the page.
window.parleyInbox = { state, dispatch };
start();
