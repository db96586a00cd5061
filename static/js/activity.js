/* Activity entries in the thread: small centred lines between messages ("Alice assigned this to
 * Bob", "Resolved by Alice", "Snoozed by Alice until Tue 09:00", "Woke from snooze"). The
 * server words each one; a snooze's time is shown again in the agent's own time zone. */

import { el } from "./dom.js";
import { clockTime } from "./format.js";
import { formatUntil } from "./snooze.js";

function activityText(m) {
  const details = (m.payload || {}).activity || {};
  if (details.action === "snoozed" && details.until) {
    const who = m.sent_by ? ` by ${m.sent_by.name}` : "";
    return `Snoozed${who} until ${formatUntil(details.until)}`;
  }
  return m.text;
}

export function renderActivity(m) {
  const li = el("li", "activity");
  if (m.id) li.dataset.id = m.id;
  li.dataset.action = ((m.payload || {}).activity || {}).action || "";
  const time = el("time", "activity-time", clockTime(m.created_at));
  time.dateTime = m.created_at;
  li.append(el("span", "activity-text", activityText(m)), time);
  return li;
}
