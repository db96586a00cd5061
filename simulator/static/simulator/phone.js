// The customer phone of Parley's local Plivo simulator.
// Everything shown here may come from an attacker (message text, names, URLs): it is only ever
// put into the page with textContent / attributes checked for http(s), never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("simulator");
  if (!root) return;
  const sendUrl = root.dataset.sendUrl;
  const threadUrl = root.dataset.threadUrl;
  const businessName = "Parley demo shop";

  const el = (id) => document.getElementById(id);
  const openForm = el("open-form");
  const phoneInput = el("phone-input");
  const nameInput = el("name-input");
  const openError = el("open-error");
  const empty = el("phone-empty");
  const chat = el("phone-chat");
  const threadBox = el("thread");
  const compose = el("compose");
  const composeText = el("compose-text");
  const sendButton = el("send");
  const sendError = el("send-error");
  const attach = el("attach");
  const attachRow = el("attach-row");
  const mediaUrl = el("media-url");
  const replying = el("replying");
  const replyingText = el("replying-text");

  let contacts = [];
  try {
    contacts = JSON.parse(el("demo-contacts").textContent) || [];
  } catch (e) {
    contacts = [];
  }

  const state = {
    phone: "",
    channel: "whatsapp",
    name: "",
    etag: "",
    messages: [],
    replyTo: null,
    generation: 0,
    controller: null,
  };
  // Bubbles already drawn (id -> {key, node}): a delivery report redraws only its own bubble,
  // so a list the customer opened or a button being tapped is not swept away by the update.
  const drawn = new Map();
  const openLists = new Set();

  // --- helpers -------------------------------------------------------------------------------
  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null && text !== "") node.textContent = text;
    return node;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function clock(epochSeconds) {
    return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function summary(message) {
    if (!message) return "a message";
    if (message.kind === "template" && message.template) return message.template.text;
    if (message.kind === "interactive" && message.interactive) return message.interactive.body;
    if (message.kind === "location" && message.location) return "Location: " + message.location.name;
    if (message.text) return message.text;
    if (message.media && message.media.length) return "Photo";
    return "a message";
  }

  // --- opening a chat ------------------------------------------------------------------------
  function selectedChannel() {
    const checked = openForm.querySelector("input[name=channel]:checked");
    return checked ? checked.value : "whatsapp";
  }

  function setChannel(channel) {
    const radio = openForm.querySelector('input[name=channel][value="' + (channel === "sms" ? "sms" : "whatsapp") + '"]');
    if (radio) radio.checked = true;
  }

  function nameFor(phone) {
    const known = contacts.find((c) => c.phone === phone && c.name);
    return known ? known.name : "";
  }

  function openChat(phone, channel, name) {
    phone = (phone || "").trim();
    openError.textContent = "";
    if (!phone) {
      openError.textContent = "Type the customer's phone number, e.g. +1 415 555 0123.";
      phoneInput.focus();
      return;
    }
    state.phone = phone;
    state.channel = channel === "sms" ? "sms" : "whatsapp";
    state.name = name || nameFor(phone);
    state.etag = "";
    state.messages = [];
    state.generation += 1;
    cancelReply();
    phoneInput.value = phone;
    nameInput.value = state.name;
    setChannel(state.channel);
    const params = new URLSearchParams({ phone: phone, channel: state.channel });
    if (state.name) params.set("name", state.name);
    history.replaceState(null, "", "?" + params.toString());
    empty.hidden = true;
    chat.hidden = false;
    chat.dataset.channel = state.channel;
    el("chat-title").textContent = businessName;
    el("chat-subtitle").textContent =
      (state.channel === "whatsapp" ? "WhatsApp" : "SMS") + " · you are " + (state.name ? state.name + " " : "") + phone;
    el("chat-avatar").textContent = state.channel === "whatsapp" ? "P" : "SMS";
    el("chat-status").textContent = "";
    document.querySelectorAll(".sim-contact").forEach((button) => {
      button.classList.toggle("is-active", button.dataset.phone === phone && button.dataset.channel === state.channel);
    });
    threadBox.replaceChildren();
    drawn.clear();
    openLists.clear();
    state.firstDraw = true;
    sendError.textContent = "";
    restartPolling();
    composeText.focus();
  }

  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    openChat(phoneInput.value, selectedChannel(), nameInput.value.trim());
  });

  document.querySelectorAll(".sim-contact").forEach((button) => {
    button.addEventListener("click", () => openChat(button.dataset.phone, button.dataset.channel, button.dataset.name));
  });

  // --- live thread (long polling) ------------------------------------------------------------
  function restartPolling() {
    if (state.controller) state.controller.abort();
    const generation = state.generation;
    poll(generation);
  }

  async function poll(generation) {
    let failures = 0;
    while (generation === state.generation && state.phone) {
      const controller = new AbortController();
      state.controller = controller;
      const params = new URLSearchParams({
        phone: state.phone,
        channel: state.channel,
        since: state.etag,
        visible: document.visibilityState === "visible" ? "1" : "0",
      });
      try {
        const response = await fetch(threadUrl + "?" + params.toString(), {
          signal: controller.signal,
          headers: { Accept: "application/json" },
        });
        const data = await response.json();
        if (generation !== state.generation) return;
        if (response.status === 400) {
          // Not a number the simulator can be: say so where it was typed.
          openError.textContent = (data.error && data.error.message) || "That number cannot be used.";
          state.phone = "";
          chat.hidden = true;
          empty.hidden = false;
          phoneInput.focus();
          return;
        }
        if (!response.ok) {
          el("chat-status").textContent = (data.error && data.error.message) || "Could not load the chat.";
          await new Promise((resolve) => setTimeout(resolve, 2000));
          continue;
        }
        failures = 0;
        el("chat-status").textContent = "";
        if (data.etag !== state.etag) {
          state.etag = data.etag;
          state.messages = data.messages;
          render();
        }
      } catch (error) {
        if (error.name === "AbortError") return;
        failures += 1;
        el("chat-status").textContent = "Reconnecting…";
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** failures, 8000)));
      }
    }
  }

  document.addEventListener("visibilitychange", () => {
    // Becoming visible is the customer looking at the chat: ask again so reads are reported.
    if (state.phone) {
      state.generation += 1;
      restartPolling();
    }
  });

  // --- drawing the chat ----------------------------------------------------------------------
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

  function render() {
    const atBottom = threadBox.scrollHeight - threadBox.scrollTop - threadBox.clientHeight < 80;
    const byId = new Map(state.messages.map((m) => [m.id, m]));
    const nodes = state.messages.map((message) => {
      const quoted = message.reply_to ? summary(byId.get(message.reply_to)) : "";
      const key = JSON.stringify(message) + "|" + quoted;
      const known = drawn.get(message.id);
      if (known && known.key === key) return known.node;
      const node = renderMessage(message, byId);
      drawn.set(message.id, { key: key, node: node });
      return node;
    });
    if (!nodes.length) {
      nodes.push(make("p", "phone-hint", state.channel === "whatsapp"
        ? "Say hello: your message reaches Parley's inbox as a WhatsApp message."
        : "Send a text: it reaches Parley's inbox as an SMS."));
    }
    const grew = nodes.length !== threadBox.children.length;
    nodes.forEach((node, index) => {
      const current = threadBox.children[index];
      if (current !== node) threadBox.insertBefore(node, current || null);
    });
    while (threadBox.children.length > nodes.length) threadBox.lastElementChild.remove();
    if (grew && (atBottom || state.firstDraw)) threadBox.scrollTop = threadBox.scrollHeight;
    state.firstDraw = false;
  }

  function renderMessage(message, byId) {
    const mine = message.from === "customer";
    const failed = !mine && (message.state === "failed" || message.state === "undelivered");
    const bubble = make("article", "bubble " + (mine ? "bubble--mine" : "bubble--theirs") + (failed ? " bubble--failed" : ""));
    bubble.dataset.id = message.id;
    bubble.dataset.kind = message.kind;
    if (!mine) bubble.dataset.state = message.state;

    if (message.reply_to) {
      const quoted = byId.get(message.reply_to);
      const quote = make("blockquote", "bubble-quote");
      quote.append(make("strong", "", quoted ? (quoted.from === "customer" ? "You" : businessName) : "Earlier message"));
      quote.append(make("span", "", summary(quoted)));
      bubble.append(quote);
    }

    if (message.kind === "interactive" && message.interactive) {
      renderInteractive(bubble, message);
    } else if (message.kind === "template" && message.template) {
      renderTemplate(bubble, message);
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
    reply.addEventListener("click", () => startReply(message));
    meta.append(reply);
    bubble.append(meta);
    return bubble;
  }

  function renderMedia(bubble, media) {
    (media || []).forEach((item) => {
      const url = safeUrl(item.url);
      if (!url) return;
      const link = make("a", "bubble-media");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      const image = make("img");
      image.src = url;
      image.alt = "Photo";
      image.loading = "lazy";
      link.append(image);
      bubble.append(link);
    });
  }

  function renderInteractive(bubble, message) {
    const interactive = message.interactive;
    if (interactive.header_media) renderMedia(bubble, [{ url: interactive.header_media }]);
    if (interactive.header) bubble.append(make("p", "bubble-header", interactive.header));
    bubble.append(make("p", "bubble-text", interactive.body));
    if (interactive.footer) bubble.append(make("p", "bubble-footer", interactive.footer));
    const actions = make("div", "bubble-actions");
    if (interactive.type === "list") {
      const rows = make("div", "bubble-list");
      rows.hidden = !openLists.has(message.id);
      const open = make("button", "bubble-action", (interactive.buttons[0] && interactive.buttons[0].title) || "View options");
      open.type = "button";
      open.setAttribute("aria-expanded", String(!rows.hidden));
      open.addEventListener("click", () => {
        rows.hidden = !rows.hidden;
        if (rows.hidden) openLists.delete(message.id);
        else openLists.add(message.id);
        open.setAttribute("aria-expanded", String(!rows.hidden));
      });
      interactive.sections.forEach((section) => {
        if (section.title) rows.append(make("p", "bubble-list-title", section.title));
        section.rows.forEach((row) => {
          const choice = make("button", "bubble-row");
          choice.type = "button";
          choice.append(make("span", "bubble-row-title", row.title));
          if (row.description) choice.append(make("span", "bubble-row-description", row.description));
          choice.addEventListener("click", () => tap(message, { list_row: row }));
          rows.append(choice);
        });
      });
      actions.append(open, rows);
    } else {
      interactive.buttons.forEach((button) => {
        if (button.cta_url) {
          actions.append(linkButton(button.title, button.cta_url));
        } else {
          actions.append(replyButton(button.title, () => tap(message, { button: { id: button.id, title: button.title } })));
        }
      });
    }
    bubble.append(actions);
  }

  function renderTemplate(bubble, message) {
    const template = message.template;
    if (template.header_media) renderMedia(bubble, [{ url: template.header_media }]);
    bubble.append(make("p", "bubble-text", template.text));
    if (template.buttons.length) {
      const actions = make("div", "bubble-actions");
      template.buttons.forEach((button) => {
        if (button.type === "quick_reply") {
          actions.append(replyButton(button.title, () => tap(message, { button: { id: button.id, title: button.title } })));
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
      const link = make("a", "", "Open map (" + lat.toFixed(4) + ", " + lon.toFixed(4) + ")");
      link.href = "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=16/" + lat + "/" + lon;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.append(link);
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
    const link = make("a", "bubble-action", title);
    link.href = safe;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }

  // --- replying and sending ------------------------------------------------------------------
  function startReply(message) {
    state.replyTo = message;
    replyingText.textContent = summary(message);
    replying.hidden = false;
    composeText.focus();
  }

  function cancelReply() {
    state.replyTo = null;
    replying.hidden = true;
    replyingText.textContent = "";
  }

  el("replying-cancel").addEventListener("click", cancelReply);

  attach.addEventListener("click", () => {
    attachRow.hidden = !attachRow.hidden;
    attach.setAttribute("aria-expanded", String(!attachRow.hidden));
    if (!attachRow.hidden) mediaUrl.focus();
  });

  async function post(body) {
    sendError.textContent = "";
    const payload = Object.assign({ phone: state.phone, channel: state.channel, profile_name: state.name }, body);
    try {
      const response = await fetch(sendUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload),
      });
      const data = await response.json();
      if (!response.ok) {
        sendError.textContent = (data.error && data.error.message) || "The simulator refused this message.";
        return false;
      }
      if (data.message && data.message.webhook && data.message.webhook.error) {
        sendError.textContent = data.message.webhook.error;
      }
      return true;
    } catch (error) {
      sendError.textContent = "The simulator could not be reached.";
      return false;
    }
  }

  function tap(message, choice) {
    post(Object.assign({ reply_to: message.id }, choice));
  }

  let sending = false;
  async function sendComposed(textOverride) {
    if (sending || !state.phone) return;
    const text = textOverride !== undefined ? textOverride : composeText.value;
    const media = textOverride !== undefined ? "" : mediaUrl.value.trim();
    if (!text.trim() && !media) {
      sendError.textContent = "Type a message or attach an image URL.";
      return;
    }
    sending = true;
    sendButton.disabled = true;
    const ok = await post({ text: text, media_url: media, reply_to: state.replyTo ? state.replyTo.id : "" });
    sending = false;
    sendButton.disabled = false;
    if (ok) {
      if (textOverride === undefined) {
        composeText.value = "";
        mediaUrl.value = "";
        attachRow.hidden = true;
        attach.setAttribute("aria-expanded", "false");
      }
      cancelReply();
      composeText.focus();
    }
  }

  compose.addEventListener("submit", (event) => {
    event.preventDefault();
    sendComposed();
  });

  composeText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendComposed();
    }
  });

  document.querySelectorAll(".phone-keyword").forEach((button) => {
    button.addEventListener("click", () => sendComposed(button.dataset.text));
  });

  // --- start ---------------------------------------------------------------------------------
  const initial = new URLSearchParams(window.location.search);
  if (initial.get("phone")) {
    openChat(initial.get("phone"), initial.get("channel") || "whatsapp", initial.get("name") || "");
  }
})();
