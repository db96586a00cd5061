/* Bulk actions: a checkbox on every row (click, Shift+click for a range, or x / Shift+x on a
 * focused row), and a bar over the list to assign, label, resolve or snooze the selected ones at once.
 *
 * POST /api/v1/conversations/bulk/ decides each conversation on its own, under the same rule
 * as changing one: the bar says what was done and names each one that was refused, which stays
 * selected so the agent can see it. */

import { api } from "./api.js";
import { dispatch, on } from "./dispatch.js";
import { $, el } from "./dom.js";
import { contactName } from "./format.js";
import { knownLabels } from "./labels.js";
import { attachSnoozeMenu } from "./snooze.js";
import { state } from "./state.js";

const selected = new Set();
const refused = new Map(); // conversation id -> why the last bulk change left it alone
let anchorId = null; // the row a Shift+click range starts from
let busy = false;

const DONE = { resolved: "Resolved", open: "Reopened", pending: "Set to pending", snoozed: "Snoozed" };

/** The row's checkbox (called for every row the list draws). */
export function decorateRow(row, conv) {
  const box = el("input", "conv-select");
  box.type = "checkbox";
  box.checked = selected.has(conv.id);
  box.tabIndex = -1; // the row takes focus; x toggles it
  box.setAttribute("aria-label", "Select " + contactName(conv));
  row.prepend(box);
  row.classList.toggle("selected", box.checked);
  row.classList.toggle("bulk-refused", refused.has(conv.id));
  if (refused.has(conv.id)) row.title = refused.get(conv.id);
  else row.removeAttribute("title");
}

function setSelected(id, on) {
  if (on) selected.add(id);
  else {
    selected.delete(id);
    refused.delete(id);
  }
}

function toggle(id, { range }) {
  const on = !selected.has(id);
  if (range && anchorId !== null && state.listIds.includes(anchorId)) {
    const [from, to] = [state.listIds.indexOf(anchorId), state.listIds.indexOf(id)].sort((a, b) => a - b);
    for (const otherId of state.listIds.slice(from, to + 1)) setSelected(otherId, on);
  } else {
    setSelected(id, on);
  }
  anchorId = id;
  redraw();
}

function redraw() {
  for (const id of Array.from(selected)) if (!state.listIds.includes(id)) setSelected(id, false); // left this list
  document.querySelectorAll("#conversation-list .conv").forEach((row) => {
    const id = Number(row.dataset.id);
    const box = row.querySelector(".conv-select");
    if (box) box.checked = selected.has(id);
    row.classList.toggle("selected", selected.has(id));
    row.classList.toggle("bulk-refused", refused.has(id));
  });
  $("bulk-bar").hidden = selected.size === 0 && !$("bulk-result").textContent;
  $("bulk-count").textContent = `${selected.size} selected`;
  for (const control of $("bulk-bar").querySelectorAll("button:not(#bulk-clear), select")) control.disabled = busy || selected.size === 0;
  renderAgentOptions();
  renderLabelOptions();
}

function renderLabelOptions() {
  const select = $("bulk-label");
  const labels = knownLabels();
  if (select.dataset.count === String(labels.length)) return;
  select.dataset.count = String(labels.length);
  const first = el("option", "", "Label…");
  first.value = "";
  const groups = [["add", "Add label"], ["remove", "Remove label"]].map(([verb, title]) => {
    const group = el("optgroup");
    group.label = title;
    for (const label of labels) {
      const option = el("option", "", (verb === "add" ? "+ " : "\u2212 ") + label.name);
      option.value = `${verb}:${label.name}`;
      group.append(option);
    }
    return group;
  });
  select.replaceChildren(first, ...(labels.length ? groups : []));
}

function renderAgentOptions() {
  const select = $("bulk-assign-other");
  if (select.options.length - 1 === state.agents.size) return;
  const first = el("option", "", "Assign to…");
  first.value = "";
  const options = [first];
  for (const agent of state.agents.values()) {
    const option = el("option", "", agent.id === state.me.id ? `${agent.name} (me)` : agent.name);
    option.value = agent.id;
    options.push(option);
  }
  select.replaceChildren(...options);
}

function clear() {
  selected.clear();
  refused.clear();
  anchorId = null;
  $("bulk-result").textContent = "";
  redraw();
}

function summary(changes, results) {
  const done = results.filter((result) => result.ok);
  const parts = [];
  if (done.length) {
    const what = changes.status ? DONE[changes.status]
      : changes.labels_add ? `Added "${changes.labels_add[0]}" to`
      : changes.labels_remove ? `Took "${changes.labels_remove[0]}" off`
      : changes.assignee_id === null ? "Unassigned" : "Assigned";
    parts.push(`${what} ${done.length}.`);
  }
  for (const result of results.filter((r) => !r.ok)) {
    const conv = state.conversations.get(result.id);
    parts.push(`Not changed: ${conv ? contactName(conv) : "#" + result.id}: ${result.error.message}`);
  }
  return parts.join(" ");
}

async function apply(changes) {
  if (busy || selected.size === 0) return;
  busy = true;
  $("bulk-result").textContent = "Working…";
  redraw();
  const ids = state.listIds.filter((id) => selected.has(id));
  try {
    const { results } = await api("POST", "/api/v1/conversations/bulk/", Object.assign({ ids }, changes));
    for (const result of results) {
      if (result.ok) {
        setSelected(result.id, false);
        dispatch({ type: "conversation.updated", payload: { conversation: result.conversation } });
      } else {
        refused.set(result.id, result.error.message);
      }
    }
    $("bulk-result").textContent = summary(changes, results);
  } catch (failure) {
    $("bulk-result").textContent = failure.message; // refused as a whole: nothing changed
  } finally {
    busy = false;
    redraw();
  }
}

export function wireBulk() {
  const list = $("conversation-list");
  // Captured and stopped here, so that ticking a box never also opens the conversation (the box
  // still ticks itself; redraw() sets the others of a range).
  list.addEventListener("click", (event) => {
    const box = event.target.closest(".conv-select");
    if (!box) return;
    event.stopPropagation();
    toggle(Number(box.closest(".conv").dataset.id), { range: event.shiftKey });
  }, true);
  list.addEventListener("keydown", (event) => {
    const row = event.target.closest(".conv");
    if (!row || event.ctrlKey || event.metaKey || event.altKey || (event.key !== "x" && event.key !== "X")) return;
    event.preventDefault();
    toggle(Number(row.dataset.id), { range: event.shiftKey });
  });
  $("bulk-assign-me").addEventListener("click", () => apply({ assignee_id: state.me.id }));
  $("bulk-assign-other").addEventListener("change", (event) => {
    if (event.target.value) apply({ assignee_id: Number(event.target.value) });
    event.target.value = "";
  });
  $("bulk-label").addEventListener("change", (event) => {
    const [verb, ...name] = event.target.value.split(":");
    if (verb) apply({ [verb === "add" ? "labels_add" : "labels_remove"]: [name.join(":")] });
    event.target.value = "";
  });
  $("bulk-resolve").addEventListener("click", () => apply({ status: "resolved" }));
  attachSnoozeMenu($("bulk-snooze"), (until) => apply({ status: "snoozed", snoozed_until: until.toISOString() }));
  $("bulk-clear").addEventListener("click", clear);
  // Another view, tab, channel or search: a selection of rows no longer shown means nothing.
  document.querySelectorAll(".view, .tab").forEach((button) => button.addEventListener("click", clear));
  $("channel-filter").addEventListener("change", clear);
  $("search").addEventListener("input", clear);
  on("conversation", () => selected.size && redraw());
  redraw();
}
