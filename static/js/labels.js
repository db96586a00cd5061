/* Labels: coloured chips on list rows and in the thread header, the picker that adds and
 * removes them from the open conversation, and the list's label filter.
 *
 * A label's colour reaches the page through the CSSOM (a custom property), never a style
 * attribute, which the CSP (style-src 'self') would drop; its name only through textContent.
 * The picker changes the conversation with one PATCH of its whole label set per toggle; the
 * answer and every other agent's change arrive as conversation snapshots, so chips are drawn
 * from the snapshot alone.
 */

import { api } from "./api.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

const known = new Map(); // lower-cased name -> {name, colour}: every label staff defined
let pickerActive = 0; // index of the focused option
let pickerFor = null; // the conversation the open picker changes

const sameName = (a, b) => a.toLowerCase() === b.toLowerCase();

/** Every label staff defined, by name. */
export function knownLabels() {
  return [...known.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
}

export function hasLabel(conv, name) {
  return (conv.labels || []).some((label) => sameName(label.name, name));
}

/** Black or white text, whichever reads better on `colour` (#rrggbb). */
function inkFor(colour) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16) / 255);
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.6 ? "dark" : "light";
}

export function labelChip(label) {
  const chip = el("span", "label-chip", label.name);
  if (/^#[0-9a-f]{6}$/i.test(label.colour)) {
    chip.style.setProperty("--label-colour", label.colour);
    chip.classList.add(inkFor(label.colour));
  }
  return chip;
}

/** The chips of a conversation's labels, for a list row. */
export function labelChips(conv) {
  return (conv.labels || []).map(labelChip);
}

// --- the thread header ----------------------------------------------------------------------
export function renderThreadLabels(conv) {
  $("thread-labels").replaceChildren(...labelChips(conv));
  if ($("label-picker").hidden) return;
  if (pickerFor === conv.id) renderPickerOptions();
  else closeLabelPicker({ focusButton: false }); // another conversation was opened
}

async function loadLabels() {
  const labels = await api("GET", "/api/v1/labels/");
  known.clear();
  for (const label of labels) known.set(label.name.toLowerCase(), label);
  renderFilterOptions();
  if (!$("label-picker").hidden) renderPickerOptions();
}

function pickerOptions() {
  const conv = state.conversations.get(state.openId);
  const filter = $("label-filter").value.trim().toLowerCase();
  // Labels the conversation has that staff have since deleted stay removable.
  const all = new Map(known);
  for (const label of (conv && conv.labels) || []) if (!all.has(label.name.toLowerCase())) all.set(label.name.toLowerCase(), label);
  return [...all.values()]
    .filter((label) => !filter || label.name.toLowerCase().includes(filter))
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
}

function renderPickerOptions() {
  const conv = state.conversations.get(state.openId);
  const options = pickerOptions();
  pickerActive = Math.min(pickerActive, Math.max(0, options.length - 1));
  const focusWasInList = $("label-options").contains(document.activeElement);
  const items = options.map((label, index) => {
    const item = el("li", "label-option");
    item.setAttribute("role", "menuitemcheckbox");
    item.setAttribute("aria-checked", String(!!conv && hasLabel(conv, label.name)));
    item.tabIndex = index === pickerActive ? 0 : -1;
    item.dataset.name = label.name;
    item.append(el("span", "label-check", "✓"), labelChip(label));
    return item;
  });
  $("label-options").replaceChildren(...items);
  $("label-none").hidden = items.length > 0;
  $("label-none").textContent = known.size ? "No label matches." : "No labels yet: staff add them in the admin.";
  if (focusWasInList && items[pickerActive]) items[pickerActive].focus();
}

export function openLabelPicker() {
  if (!state.openId) return;
  pickerFor = state.openId;
  $("label-picker").hidden = false;
  $("edit-labels").setAttribute("aria-expanded", "true");
  $("label-filter").value = "";
  $("label-error").hidden = true;
  pickerActive = 0;
  renderPickerOptions();
  $("label-filter").focus();
  loadLabels().catch(() => {}); // staff may have added one since the page loaded
}

function closeLabelPicker({ focusButton = true } = {}) {
  if ($("label-picker").hidden) return;
  $("label-picker").hidden = true;
  $("edit-labels").setAttribute("aria-expanded", "false");
  if (focusButton) $("edit-labels").focus();
}

async function toggleLabel(name) {
  const conv = state.conversations.get(pickerFor);
  if (!conv || pickerFor !== state.openId) return;
  const current = (conv.labels || []).map((label) => label.name);
  const labels = hasLabel(conv, name) ? current.filter((other) => !sameName(other, name)) : current.concat([name]);
  $("label-error").hidden = true;
  try {
    const updated = await api("PATCH", `/api/v1/conversations/${conv.id}/`, { labels });
    dispatch({ type: "conversation.updated", payload: { conversation: updated } });
  } catch (failure) {
    $("label-error").textContent = failure.message;
    $("label-error").hidden = false;
    if (failure.code === "unknown_label") loadLabels().catch(() => {});
  }
}

function focusOption(index) {
  const items = [...$("label-options").children];
  if (!items.length) return;
  pickerActive = (index + items.length) % items.length;
  items.forEach((item, i) => (item.tabIndex = i === pickerActive ? 0 : -1));
  items[pickerActive].focus();
}

function onPickerKey(event) {
  const item = event.target.closest(".label-option");
  const items = [...$("label-options").children];
  switch (event.key) {
    case "Escape":
      event.preventDefault();
      event.stopPropagation(); // the page's Escape would blur and close the contact panel too
      closeLabelPicker();
      break;
    case "ArrowDown":
      event.preventDefault();
      focusOption(item ? items.indexOf(item) + 1 : 0);
      break;
    case "ArrowUp":
      event.preventDefault();
      focusOption(item ? items.indexOf(item) - 1 : items.length - 1);
      break;
    case "Enter":
    case " ":
      if (item) {
        event.preventDefault();
        toggleLabel(item.dataset.name);
      } else if (event.key === "Enter" && items.length) {
        event.preventDefault(); // Enter in the filter: the first match
        toggleLabel(items[0].dataset.name);
      }
      break;
    default:
      break;
  }
}

// --- the list's filter ----------------------------------------------------------------------
function renderFilterOptions() {
  const select = $("label-filter-select");
  const first = el("option", "", "All labels");
  first.value = "";
  const options = [first];
  const names = [...known.values()].map((label) => label.name);
  if (state.label && !names.some((name) => sameName(name, state.label))) names.push(state.label);
  for (const name of names.sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }))) {
    const option = el("option", "", name);
    option.value = name;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.value = state.label || "";
}

export function wireLabels(setFilter) {
  $("edit-labels").addEventListener("click", () => ($("label-picker").hidden ? openLabelPicker() : closeLabelPicker()));
  $("label-picker").addEventListener("keydown", onPickerKey);
  $("label-filter").addEventListener("input", () => {
    pickerActive = 0;
    renderPickerOptions();
  });
  $("label-options").addEventListener("click", (event) => {
    const item = event.target.closest(".label-option");
    if (item) {
      pickerActive = [...$("label-options").children].indexOf(item);
      toggleLabel(item.dataset.name);
    }
  });
  $("label-close").addEventListener("click", () => closeLabelPicker());
  document.addEventListener("click", (event) => {
    if (!$("label-picker").hidden && !event.target.closest("#label-picker, #edit-labels")) closeLabelPicker({ focusButton: false });
  });
  $("label-filter-select").addEventListener("change", (event) => setFilter({ label: event.target.value }));
  on("labels", ({ label, previous_name: previous }) => {
    if (previous) known.delete(previous.toLowerCase());
    if (label) known.set(label.name.toLowerCase(), label);
    renderFilterOptions();
    if (!$("label-picker").hidden) renderPickerOptions();
  });
  on("conversation", (conv) => conv.id === state.openId && renderThreadLabels(conv));
  renderFilterOptions();
  loadLabels().catch(() => {});
}
