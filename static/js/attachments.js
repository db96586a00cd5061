/* Files from the agent's computer: picked with the File button, dropped on the composer or
 * pasted (an image). Each is checked against what the conversation's channel can carry before
 * anything is uploaded, then uploaded (POST /api/v1/attachments/) and shown in the tray with its
 * name, size and a thumbnail until the message goes out with `attachments: [ids]`.
 *
 * The tray belongs to a conversation; switching conversations keeps each one's files. What is
 * uploaded is kept in localStorage (its id, name, size and type, never the bytes), so a reload
 * keeps it like the text draft; a file still uploading at the reload has to be picked again.
 */

import { ApiFailure } from "./api.js";
import { $, el } from "./dom.js";
import { boot, state } from "./state.js";
import { pruneStored, store, stored } from "./storage.js";

const MB = 1024 * 1024;
// The server's rules (conversations/services/attachments.py): per channel, category -> [largest, types].
const RULES = {
  whatsapp: {
    image: [5 * MB, ["image/jpeg", "image/png"]],
    video: [16 * MB, ["video/mp4", "video/3gpp"]],
    audio: [16 * MB, ["audio/mpeg", "audio/ogg"]],
    document: [100 * MB, ["application/pdf", "text/plain", "text/csv", "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]],
  },
  sms: {
    image: [5 * MB, ["image/jpeg", "image/png", "image/gif"]],
    video: [5 * MB, ["video/mp4", "video/3gpp"]],
    audio: [5 * MB, ["audio/mpeg", "audio/ogg", "audio/wav"]],
    document: [5 * MB, ["application/pdf", "text/plain", "text/csv", "text/vcard"]],
  },
};
const MOST = { whatsapp: 1, sms: 10 };
const BY_EXTENSION = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", mp4: "video/mp4", "3gp": "video/3gpp",
  mp3: "audio/mpeg", ogg: "audio/ogg", wav: "audio/wav", pdf: "application/pdf", txt: "text/plain", csv: "text/csv",
  vcf: "text/vcard", xls: "application/vnd.ms-excel", xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};
const CATEGORY_NAMES = { image: "images", video: "videos", audio: "audio files", document: "documents" };

const trays = new Map(); // conversation id -> [{key, file, name, size, type, preview, id, status, error}]
const TRAY_PREFIX = `parley.tray.${state.me.id}.`;
// The server deletes an upload nobody sent after this long (ATTACHMENT_UNSENT_RETENTION_HOURS).
const KEEP_MS = (boot.attachment_retention_hours || 24) * 3600 * 1000;
let shownId = null;
let counter = 0;
let changed = () => {};

export function humanSize(size) {
  if (size >= MB) return `${(size / MB).toFixed(1).replace(/\.0$/, "")} MB`;
  return `${Math.max(1, Math.round(size / 1024))} KB`;
}

function typeOf(file) {
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  const declared = (file.type || "").toLowerCase().replace("audio/mp3", "audio/mpeg").replace("audio/x-wav", "audio/wav");
  return declared && declared !== "application/octet-stream" ? declared : BY_EXTENSION[extension] || declared;
}

/** Why `channel` cannot carry `file`, or "" (the server checks the bytes again). */
export function refusal(channel, file) {
  const label = channel === "whatsapp" ? "WhatsApp" : "MMS";
  const type = typeOf(file);
  for (const [category, [largest, types]] of Object.entries(RULES[channel])) {
    if (types.includes(type)) {
      return file.size > largest ? `${file.name} is ${humanSize(file.size)}; ${label} takes ${CATEGORY_NAMES[category]} up to ${humanSize(largest)}.` : "";
    }
  }
  return `${label} cannot carry ${file.name}${type ? " (" + type + ")" : ""}. Send a picture, video, audio file, PDF, text or spreadsheet.`;
}

function trayOf(id) {
  if (!trays.has(id)) trays.set(id, restored(id));
  return trays.get(id);
}

/** The uploaded files of conversation `id` this agent left in an earlier page, as ready items. */
function restored(id) {
  const kept = stored(TRAY_PREFIX + id);
  return (Array.isArray(kept) ? kept : []).filter((entry) => entry && Number.isInteger(entry.id) && fresh(entry)).map((entry) => ({
    key: ++counter, file: null, name: String(entry.name || "file"), size: Number(entry.size) || 0, type: String(entry.type || ""),
    preview: String(entry.type || "").startsWith("image/") ? `/inbox/media/${entry.id}/` : null, id: entry.id, status: "ready", error: "",
  }));
}

function persist(id) {
  const ready = trayOf(id).filter((item) => item.status === "ready");
  store(TRAY_PREFIX + id, ready.length ? ready.map((item) => (
    { id: item.id, name: item.name, size: item.size, type: item.type, savedAt: item.savedAt || Date.now() })) : null);
}

function fresh(entry) {
  return Date.now() - (entry.savedAt || 0) < KEEP_MS;
}

/** Drop kept trays whose uploads the server has deleted by now. */
function pruneTrays() {
  pruneStored(TRAY_PREFIX, (entries) => !Array.isArray(entries) || !entries.some((entry) => entry && fresh(entry)));
}

function forget(item) {
  if (item.preview && item.preview.startsWith("blob:")) URL.revokeObjectURL(item.preview);
}

/** The uploaded files of conversation `id`, ready to send (ids), and whether any is still uploading. */
export function readyAttachments(id) {
  const tray = trayOf(id);
  return { ids: tray.filter((item) => item.status === "ready").map((item) => item.id), uploading: tray.some((item) => item.status === "uploading"), items: tray.filter((item) => item.status === "ready") };
}

/** After a send was accepted: those files are gone from the tray (refusals stay, with their reason). */
export function clearAttachments(id, ids) {
  const tray = trayOf(id);
  for (const item of tray.filter((entry) => ids.includes(entry.id))) forget(item);
  trays.set(id, tray.filter((item) => !ids.includes(item.id)));
  persist(id);
  if (id === shownId) renderTray();
}

export function showAttachments(id) {
  shownId = id;
  renderTray();
}

export function addFiles(files) {
  const conv = state.conversations.get(shownId);
  if (!conv) return;
  const id = shownId;
  const tray = trayOf(id);
  for (const file of files) {
    const item = { key: ++counter, file, name: file.name || "pasted image", size: file.size, type: typeOf(file), preview: null, id: null, status: "uploading", error: "" };
    const kept = tray.filter((entry) => entry.status !== "refused").length;
    item.error = refusal(conv.channel, file) || (kept >= MOST[conv.channel] ? (conv.channel === "whatsapp" ? "WhatsApp sends one file per message: send this one in the next message." : "An MMS carries at most 10 files.") : "");
    if (item.error) item.status = "refused";
    else if (item.type.startsWith("image/")) item.preview = URL.createObjectURL(file);
    tray.push(item);
    if (!item.error) upload(id, conv.channel, item);
  }
  renderTray(true);
}

async function upload(id, channel, item) {
  const form = new FormData();
  form.append("file", item.file, item.name);
  form.append("channel", channel);
  try {
    const response = await fetch("/api/v1/attachments/", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": csrf() }, body: form });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiFailure(response.status, data && data.error);
    Object.assign(item, { id: data.id, status: "ready", type: data.content_type, size: data.size, savedAt: Date.now() });
  } catch (failure) {
    Object.assign(item, { status: "refused", error: failure instanceof ApiFailure ? failure.message : "The file could not be uploaded." });
  }
  persist(id);
  if (id === shownId) renderTray(true);
}

function csrf() {
  const input = document.querySelector(".logout-form input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function remove(key) {
  const tray = trayOf(shownId);
  const item = tray.find((entry) => entry.key === key);
  if (item) forget(item);
  trays.set(shownId, tray.filter((entry) => entry.key !== key));
  persist(shownId);
  renderTray(true);
}

/** `filesChanged`: the agent added or removed a file, or an upload finished (not a mere redraw). */
function renderTray(filesChanged = false) {
  const node = $("attachment-tray");
  const tray = shownId === null ? [] : trayOf(shownId);
  node.replaceChildren(
    ...tray.map((item) => {
      const chip = el("li", "attachment " + item.status);
      chip.dataset.status = item.status;
      if (item.preview) {
        const thumb = el("img", "attachment-thumb");
        thumb.src = item.preview;
        thumb.alt = "";
        chip.appendChild(thumb);
      } else chip.appendChild(el("span", "attachment-icon", (item.type.split("/")[1] || "file").slice(0, 4).toUpperCase()));
      const text = el("span", "attachment-text");
      text.appendChild(el("span", "attachment-name", item.name));
      text.appendChild(el("span", "attachment-size muted", item.status === "uploading" ? `${humanSize(item.size)} · uploading…` : humanSize(item.size)));
      if (item.error) text.appendChild(el("span", "attachment-error", item.error));
      chip.appendChild(text);
      const close = el("button", "btn btn-ghost btn-small", "×");
      close.type = "button";
      close.setAttribute("aria-label", "Remove " + item.name);
      close.addEventListener("click", () => remove(item.key));
      chip.appendChild(close);
      return chip;
    })
  );
  node.hidden = !tray.length || $("composer").classList.contains("note-mode"); // a note carries no files
  changed(filesChanged);
}

/** `onChange(filesChanged)` is told whenever the tray is drawn (the composer's counter, its send key). */
export function wireAttachments(onChange) {
  changed = onChange;
  pruneTrays();
  const picker = $("attach-file-input");
  $("attach-file").addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    addFiles(Array.from(picker.files));
    picker.value = "";
  });
  const composer = $("composer");
  composer.addEventListener("dragover", (e) => {
    if (!e.dataTransfer || !Array.from(e.dataTransfer.types).includes("Files")) return;
    e.preventDefault();
    composer.classList.add("dropping");
  });
  composer.addEventListener("dragleave", () => composer.classList.remove("dropping"));
  composer.addEventListener("drop", (e) => {
    composer.classList.remove("dropping");
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    addFiles(Array.from(e.dataTransfer.files));
  });
  $("composer-text").addEventListener("paste", (e) => {
    const files = Array.from((e.clipboardData && e.clipboardData.files) || []).filter((file) => file.type.startsWith("image/"));
    if (!files.length) return;
    e.preventDefault();
    addFiles(files);
  });
}
