/* Plain values shown on the page: times, durations, names, channels, the WhatsApp window. */

const THREE_HOURS = 3 * 3600 * 1000;

/** Microseconds since the epoch, for ordering snapshots (Date.parse drops microseconds). */
export function stamp(iso) {
  if (!iso) return 0;
  const match = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso);
  if (!match) return Date.parse(iso) * 1000 || 0;
  const micros = Number(((match[2] || "") + "000000").slice(0, 6));
  return Date.parse(match[1] + (match[3] || "Z")) * 1000 + micros;
}

export function relativeTime(iso) {
  if (!iso) return "";
  const then = new Date(iso);
  const seconds = (Date.now() - then.getTime()) / 1000;
  if (seconds < 45) return "now";
  if (seconds < 3600) return Math.round(seconds / 60) + " min";
  if (seconds < 86400) return Math.round(seconds / 3600) + " h";
  if (seconds < 7 * 86400) return then.toLocaleDateString(undefined, { weekday: "short" });
  return then.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

export function clockTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
}

export function duration(ms) {
  const minutes = Math.max(1, Math.round(ms / 60000));
  if (minutes < 60) return minutes + " min";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest && hours < 10 ? `${hours} h ${rest} min` : `${hours} h`;
}

/** 4096 -> "4,096": the page is in English whatever the browser's locale. */
export function count(n) {
  return n.toLocaleString("en-US");
}

export function contactName(conv) {
  return conv.contact.display_name || conv.contact.phone;
}

export function channelLabel(channel) {
  return channel === "whatsapp" ? "WhatsApp" : "SMS";
}

/** {state: "open"|"closing"|"closed"|"none", msLeft} for a WhatsApp conversation. */
export function windowState(conv) {
  if (!conv || conv.channel !== "whatsapp") return { state: "none", msLeft: Infinity };
  const expires = conv.window_expires_at ? Date.parse(conv.window_expires_at) : 0;
  const msLeft = expires - Date.now();
  if (!expires || msLeft <= 0) return { state: "closed", msLeft: 0 };
  return { state: msLeft < THREE_HOURS ? "closing" : "open", msLeft };
}

/** The badge a closing or closed window gets ({className, text}), or null. */
export function windowBadge(conv) {
  const win = windowState(conv);
  if (win.state === "closing") return { className: "window-badge", text: "closes in " + duration(win.msLeft) };
  if (win.state === "closed") return { className: "window-badge closed", text: "closed" };
  return null;
}

export function optedOut(conv) {
  const at = conv.contact[conv.channel + "_opted_out_at"];
  return at ? { at, reason: conv.contact[conv.channel + "_opt_out_reason"] } : null;
}
