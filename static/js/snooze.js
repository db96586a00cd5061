/* Snoozing: the presets (in the agent's own time zone), the menu that offers them wherever a
 * Snooze button is (the thread header, the bulk bar), and how a snooze is shown. The server
 * wakes a snoozed conversation at its time, or as soon as the customer writes. */

import { el } from "./dom.js";

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MORNING_HOUR = 9;

function atMorning(day) {
  const moment = new Date(day);
  moment.setHours(MORNING_HOUR, 0, 0, 0);
  return moment;
}

/** The preset times, from `now`, in this browser's time zone. */
export function snoozePresets(now = new Date()) {
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  const monday = new Date(now);
  monday.setDate(now.getDate() + (((8 - now.getDay()) % 7) || 7)); // the next Monday, a week on if today is one
  return [
    { id: "hour", label: "1 hour", until: new Date(now.getTime() + 3600 * 1000) },
    { id: "tomorrow", label: "Tomorrow 9:00", until: atMorning(tomorrow) },
    { id: "week", label: "Next week", until: atMorning(monday) },
  ];
}

function two(n) {
  return String(n).padStart(2, "0");
}

/** "Tue 09:00" within the coming week, "Tue 21 Jan 09:00" beyond it; local time. */
export function formatUntil(value, now = new Date()) {
  const when = new Date(value);
  const clock = `${two(when.getHours())}:${two(when.getMinutes())}`;
  const days = (atMorning(when) - atMorning(now)) / 86400000;
  if (days >= 0 && days < 6) return `${WEEKDAYS[when.getDay()]} ${clock}`;
  return `${WEEKDAYS[when.getDay()]} ${when.getDate()} ${MONTHS[when.getMonth()]} ${clock}`;
}

/** The value a datetime-local input takes for `moment` (local time, to the minute). */
function localInputValue(moment) {
  return `${moment.getFullYear()}-${two(moment.getMonth() + 1)}-${two(moment.getDate())}T${two(moment.getHours())}:${two(moment.getMinutes())}`;
}

/**
 * Give `button` a menu of snooze times; `onPick(until)` gets the chosen Date. The menu is a
 * plain list of buttons under it: arrow keys move, Escape or a click elsewhere closes it.
 */
export function attachSnoozeMenu(button, onPick) {
  const menu = el("div", "snooze-menu");
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", "Snooze until");
  menu.hidden = true;
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.after(menu);
  button.parentElement.classList.add("snooze-anchor");

  const close = (refocus) => {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  };
  const pick = (until) => {
    close(true);
    onPick(until);
  };
  const open = () => {
    const items = snoozePresets().map((preset) => {
      const item = el("button", "snooze-item");
      item.type = "button";
      item.setAttribute("role", "menuitem");
      item.dataset.preset = preset.id;
      item.append(el("span", "", preset.label), el("span", "muted", formatUntil(preset.until)));
      item.addEventListener("click", () => pick(preset.until));
      return item;
    });
    const custom = el("form", "snooze-custom");
    const input = el("input");
    input.type = "datetime-local";
    input.required = true;
    input.min = localInputValue(new Date());
    input.setAttribute("aria-label", "Snooze until a date and time");
    const go = el("button", "btn btn-small", "Snooze");
    go.type = "submit";
    custom.append(input, go);
    custom.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value) pick(new Date(input.value)); // a datetime-local value is read as local time
    });
    menu.replaceChildren(...items, custom);
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    items[0].focus();
  };

  button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
  menu.addEventListener("keydown", (event) => {
    const items = Array.from(menu.querySelectorAll(".snooze-item, input, .snooze-custom button"));
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && document.activeElement.type !== "datetime-local") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(index + step + items.length) % items.length].focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) close(false);
  });
  menu.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !menu.contains(event.relatedTarget) && event.relatedTarget !== button) close(false);
  });
  return { open };
}

/** "until Tue 09:00" for a snoozed conversation's row, or null. */
export function snoozeTag(conv) {
  if (conv.status !== "snoozed" || !conv.snoozed_until) return null;
  const tag = el("span", "tag snoozed-tag", "until " + formatUntil(conv.snoozed_until));
  tag.title = "Snoozed until " + new Date(conv.snoozed_until).toLocaleString();
  return tag;
}

/** The thread header's "Snoozed until …". */
export function renderSnoozeState(conv, node) {
  const snoozed = conv.status === "snoozed" && conv.snoozed_until;
  node.hidden = !snoozed;
  node.textContent = snoozed ? "Snoozed until " + formatUntil(conv.snoozed_until) : "";
}
