// How a message looks on the customer phone of Parley's local Plivo simulator.
// Everything shown here may come from an attacker (message text, names, URLs): it is only ever
// put into the page with textContent / attributes checked for http(s), never as HTML.

import { el as make, externalLink, imageLink, mapUrl, safeUrl } from "../js/dom.js";

export const BUSINESS_NAME = "Parley demo shop";

// How far Parley's message got, as Plivo reported it to Parley (the agent sees the same ticks).
const STATE_LABELS = {
  accepted: "\u{1F552} accepted by Plivo",
  queued: "\u{1F552} queued",
  sent: "\u2713 sent",
  delivered: "\u2713\u2713 delivered",
  read: "\u2713\u2713 read",
  failed: "\u2717 failed",
  undelivered: "\u2717 undelivered",
};

export function summary(message) {
  if (!message) return "a message";
  if (message.kind === "template" && message.template) return message.template.text;
  if (message.kind === "interactive" && message.interactive) return message.interactive.body;
  if (message.kind === "location" && message.location) return "Location: " + message.location.name;
  if (message.text) return message.text;
  if (message.media && message.media.length) return "Photo";
  return "a message";
}

function clock(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * One message as a bubble. `customer`: reply(message) and tap(message, choice) for what the
 * customer does with it, and openLists, the ids of list messages whose rows are open.
 */
export function renderBubble(message, byId, customer) {
  const mine = message.from === "customer";
  const failed = !mine && (message.state === "failed" || message.state === "undelivered");
  const bubble = make("article", "bubble " + (mine ? "bubble--mine" : "bubble--theirs") + (failed ? " bubble--failed" : ""));
  bubble.dataset.id = message.id;
  bubble.dataset.kind = message.kind;
  if (!mine) bubble.dataset.state = message.state;

  if (message.reply_to) {
    const quoted = byId.get(message.reply_to);
    const quote = make("blockquote", "bubble-quote");
    quote.append(make("strong", "", quoted ? (quoted.from === "customer" ? "You" : BUSINESS_NAME) : "Earlier message"));
    quote.append(make("span", "", summary(quoted)));
    bubble.append(quote);
  }

  if (message.kind === "interactive" && message.interactive) {
    renderInteractive(bubble, message, customer);
  } else if (message.kind === "template" && message.template) {
    renderTemplate(bubble, message, customer);
  } else if (message.kind === "location" && message.location) {
    renderLocation(bubble, message.location);
  } else {
    renderMedia(bubble, message.media);
    if (message.kind === "button_reply" || message.kind === "list_reply") {
      bubble.append(make("span", "bubble-tag", message.kind === "button_reply" ? "Button reply" : "List reply"));
    }
    if (message.text) bubble.append(make("p", "bubble-text", message.text));
  }

  const meta = make("footer", "bubble-meta");
  meta.append(make("time", "", clock(message.at)));
  if (mine) {
    const webhook = message.webhook || {};
    let label = "sending to Parley…";
    let cls = "is-pending";
    if (webhook.status && webhook.status < 300) {
      label = "✓✓ Parley got it";
      cls = "is-ok";
    } else if (webhook.status !== null && webhook.status !== undefined) {
      label = "✗ " + (webhook.error || "Parley answered " + webhook.status);
      cls = "is-error";
    }
    meta.append(make("span", "bubble-webhook " + cls, label));
  } else {
    const label = STATE_LABELS[message.state] || message.state;
    const status = make("span", "bubble-state state-" + message.state,
      failed ? label + (message.error_code ? " · error " + message.error_code + " (" + message.error + ")" : "") : label);
    status.title = "Delivery reports Plivo sent to Parley: " + (message.reports.join(" → ") || "none yet");
    meta.append(status);
  }
  const reply = make("button", "bubble-reply", "Reply");
  reply.type = "button";
  reply.setAttribute("aria-label", "Reply to this message");
  reply.addEventListener("click", () => customer.reply(message));
  meta.append(reply);
  bubble.append(meta);
  return bubble;
}

function renderMedia(bubble, media) {
  (media || []).forEach((item) => {
    const url = safeUrl(item.url);
    if (!url) return;
    const type = item.content_type || "";
    // Only this server's files are loaded (the page's CSP allows no other host).
    if (new URL(url).origin !== location.origin) bubble.append(externalLink("bubble-link", "Open the attachment", url));
    else if (type && !type.startsWith("image/")) bubble.append(externalLink("bubble-link", `Open the ${type.split("/")[0]} file`, url));
    else bubble.append(imageLink("bubble-media", url, "Photo"));
  });
}

function renderInteractive(bubble, message, customer) {
  const interactive = message.interactive;
  if (interactive.header_media) renderMedia(bubble, [{ url: interactive.header_media }]);
  if (interactive.header) bubble.append(make("p", "bubble-header", interactive.header));
  bubble.append(make("p", "bubble-text", interactive.body));
  if (interactive.footer) bubble.append(make("p", "bubble-footer", interactive.footer));
  const actions = make("div", "bubble-actions");
  if (interactive.type === "list") {
    const rows = make("div", "bubble-list");
    rows.hidden = !customer.openLists.has(message.id);
    const open = make("button", "bubble-action", (interactive.buttons[0] && interactive.buttons[0].title) || "View options");
    open.type = "button";
    open.setAttribute("aria-expanded", String(!rows.hidden));
    open.addEventListener("click", () => {
      rows.hidden = !rows.hidden;
      if (rows.hidden) customer.openLists.delete(message.id);
      else customer.openLists.add(message.id);
      open.setAttribute("aria-expanded", String(!rows.hidden));
    });
    interactive.sections.forEach((section) => {
      if (section.title) rows.append(make("p", "bubble-list-title", section.title));
      section.rows.forEach((row) => {
        const choice = make("button", "bubble-row");
        choice.type = "button";
        choice.append(make("span", "bubble-row-title", row.title));
        if (row.description) choice.append(make("span", "bubble-row-description", row.description));
        choice.addEventListener("click", () => customer.tap(message, { list_row: row }));
        rows.append(choice);
      });
    });
    actions.append(open, rows);
  } else {
    interactive.buttons.forEach((button) => {
      if (button.cta_url) {
        actions.append(linkButton(button.title, button.cta_url));
      } else {
        actions.append(replyButton(button.title, () => customer.tap(message, { button: { id: button.id, title: button.title } })));
      }
    });
  }
  bubble.append(actions);
}

function renderTemplate(bubble, message, customer) {
  const template = message.template;
  if (template.header_media) renderMedia(bubble, [{ url: template.header_media }]);
  bubble.append(make("p", "bubble-text", template.text));
  if (template.buttons.length) {
    const actions = make("div", "bubble-actions");
    template.buttons.forEach((button) => {
      if (button.type === "quick_reply") {
        actions.append(replyButton(button.title, () => customer.tap(message, { button: { id: button.id, title: button.title } })));
      } else if (button.cta_url) {
        actions.append(linkButton(button.title, button.cta_url));
      } else {
        actions.append(make("span", "bubble-action is-static", button.title));
      }
    });
    bubble.append(actions);
  }
}

function renderLocation(bubble, location) {
  const box = make("div", "bubble-location");
  box.append(make("strong", "", location.name));
  box.append(make("span", "", location.address));
  const lat = Number(location.latitude);
  const lon = Number(location.longitude);
  if (Number.isFinite(lat) && Number.isFinite(lon)) {
    box.append(externalLink("", "Open map (" + lat.toFixed(4) + ", " + lon.toFixed(4) + ")", mapUrl(lat, lon)));
  }
  bubble.append(box);
}

function replyButton(title, onClick) {
  const button = make("button", "bubble-action", title);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

function linkButton(title, url) {
  const safe = safeUrl(url);
  if (!safe) return make("span", "bubble-action is-static", title);
  return externalLink("bubble-action", title, safe);
}
