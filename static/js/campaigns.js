/* The Campaigns page: the list, the create form (template with preview), one campaign's live
 * view (counts, progress, ETA, start / pause / resume / stop, per-recipient table, export).
 *
 * Live figures come through the inbox socket (/ws/inbox/): the outbound worker pushes a
 * `campaign.updated` event whenever a campaign's figures change; after a reconnect the page
 * refetches what it shows. Everything from the server reaches the page through textContent. */

import { api } from "./api.js";
import { fillBubble, renderSegments, resetUpload, setupUpload } from "./campaign_csv.js";
import { $, el } from "./dom.js";
import { channelLabel, clockTime, count, duration, relativeTime } from "./format.js";

const boot = JSON.parse($("campaigns-bootstrap").textContent);
const TILES = ["total", "pending", "skipped", "queued", "sent", "delivered", "read", "failed", "replied"];
const page = { campaigns: new Map(), current: null, templates: [], recipientsAfter: null };

function showError(text) {
  $("page-error").textContent = text;
  $("page-error").hidden = !text;
}

function statusLabel(status) {
  return status.charAt(0).toUpperCase() + status.slice(1);
}

// --- views ------------------------------------------------------------------------------------------
function show(view) {
  for (const name of ["list", "create", "detail"]) $(`${name}-view`).hidden = name !== view;
}

async function openList(push) {
  if (push) history.pushState({}, "", "/campaigns/");
  page.current = null;
  show("list");
  try {
    const campaigns = await api("GET", "/api/v1/campaigns/");
    page.campaigns = new Map(campaigns.map((c) => [c.id, c]));
    renderList();
    showError("");
  } catch (failure) {
    showError(failure.message);
  }
}

function renderList() {
  const body = $("campaign-rows");
  body.replaceChildren();
  const campaigns = [...page.campaigns.values()].sort((a, b) => b.id - a.id);
  $("list-empty").hidden = campaigns.length > 0;
  for (const campaign of campaigns) {
    const tr = el("tr", "clickable");
    tr.dataset.id = campaign.id;
    const name = el("a", "", campaign.name);
    name.href = `/campaigns/${campaign.id}/`;
    name.addEventListener("click", (event) => { event.preventDefault(); openDetail(campaign.id, true); });
    const bar = el("progress");
    bar.max = 1;
    bar.value = campaign.progress;
    const progress = el("td");
    progress.append(bar, el("span", "muted", ` ${Math.round(campaign.progress * 100)}%`));
    const nameCell = el("td");
    nameCell.append(name);
    const status = el("td");
    const chip = el("span", "status-chip", statusLabel(campaign.status));
    chip.dataset.status = campaign.status;
    status.append(chip);
    const sent = campaign.counts.sent + campaign.counts.delivered + campaign.counts.read + campaign.counts.replied;
    tr.append(nameCell, el("td", "", channelLabel(campaign.channel)), status, progress,
      el("td", "", `${count(sent)} / ${count(campaign.counts.total)}`), el("td", "muted", relativeTime(campaign.created_at)));
    tr.addEventListener("click", () => openDetail(campaign.id, true));
    body.append(tr);
  }
}

// --- create -------------------------------------------------------------------------------------------
function templateSource(template) {
  return [template.header_type === "text" ? template.header_text : "", template.body, template.footer].filter(Boolean).join("\n\n");
}

/** A template's parameters in the order recipients give them: header, body, then buttons. */
function templateMessage(template) {
  const slots = template.parameter_slots;
  const buttons = slots.buttons.reduce((sum, b) => sum + b.count, 0);
  return {
    parameterCount: slots.header + slots.body + buttons,
    preview(values) {
      const header = template.header_type === "text" ? renderSegments(template.header_text, values.slice(0, slots.header)) : [];
      const body = renderSegments(template.body, values.slice(slots.header, slots.header + slots.body));
      const parts = [header, body, template.footer ? [{ text: template.footer }] : []].filter((p) => p.length);
      return parts.flatMap((part, i) => (i ? [{ text: "\n\n" }, ...part] : part));
    },
  };
}

function smsMessage(text) {
  const numbers = [...text.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => Number(m[1]));
  return { parameterCount: numbers.length ? Math.max(...numbers) : 0, preview: (values) => renderSegments(text, values) };
}

async function openCreate() {
  show("create");
  $("create-form").reset();
  $("create-error").hidden = true;
  try {
    page.templates = await api("GET", "/api/v1/templates/");
  } catch (failure) {
    page.templates = [];
    showError(failure.message);
  }
  const select = $("campaign-template");
  select.replaceChildren();
  page.templates.forEach((template, index) => {
    const option = el("option", "", `${template.name} (${template.language}) · ${template.category.toLowerCase()}`);
    option.value = String(index);
    select.append(option);
  });
  if (!page.templates.length) select.append(el("option", "", "No approved templates"));
  channelChanged();
  $("campaign-name").focus();
}

function channelChanged() {
  const channel = $("campaign-channel").value;
  for (const node of document.querySelectorAll("[data-for]")) node.hidden = node.dataset.for !== channel;
  $("rate-hint").textContent = `at most ${boot.rate_allowed[channel]} per second (the account's limit)`;
  previewCreate();
}

function previewCreate() {
  const channel = $("campaign-channel").value;
  const template = page.templates[Number($("campaign-template").value)];
  const source = channel === "sms" ? $("campaign-text").value : template ? templateSource(template) : "";
  fillBubble($("template-preview"), renderSegments(source, []));
}

async function submitCreate(event) {
  event.preventDefault();
  const channel = $("campaign-channel").value;
  const body = { name: $("campaign-name").value.trim(), channel };
  if (channel === "whatsapp") {
    const template = page.templates[Number($("campaign-template").value)];
    if (template) body.template = { name: template.name, language: template.language };
  } else body.text = $("campaign-text").value;
  const rate = $("campaign-rate").value.trim();
  if (rate) body.rate_per_second = Number(rate);
  const when = $("campaign-when").value;
  if (when) body.scheduled_at = new Date(when).toISOString();
  $("create-submit").disabled = true;
  try {
    const campaign = await api("POST", "/api/v1/campaigns/", body);
    openDetail(campaign.id, true);
  } catch (failure) {
    $("create-error").textContent = failure.message;
    $("create-error").hidden = false;
  } finally {
    $("create-submit").disabled = false;
  }
}

// --- one campaign --------------------------------------------------------------------------------------------
async function openDetail(id, push) {
  if (push) history.pushState({ id }, "", `/campaigns/${id}/`);
  show("detail");
  $("detail-error").hidden = true;
  resetUpload();
  try {
    const campaign = await api("GET", `/api/v1/campaigns/${id}/`);
    page.current = campaign;
    renderDetail(campaign);
    fillEdit(campaign);
    if (campaign.status === "draft") await prepareUpload(campaign);
    loadRecipients(true);
  } catch (failure) {
    showError(failure.message);
  }
}

async function prepareUpload(campaign) {
  let message = smsMessage(campaign.text || "");
  if (campaign.channel === "whatsapp") {
    const templates = await api("GET", "/api/v1/templates/");
    const template = templates.find((t) => t.name === campaign.template.name && t.language === campaign.template.language);
    message = template ? templateMessage(template) : { parameterCount: 0, preview: () => [] };
  }
  setupUpload({ campaignId: campaign.id, message, batchSize: boot.batch_size, maxRows: boot.max_rows, onAdded: () => refresh(campaign.id) });
}

function renderDetail(campaign) {
  $("detail-title").textContent = campaign.name;
  const what = campaign.template ? `template ${campaign.template.name} (${campaign.template.language})` : "text";
  const when = campaign.scheduled_at ? ` · scheduled for ${new Date(campaign.scheduled_at).toLocaleString()}` : "";
  $("detail-meta").textContent = `${channelLabel(campaign.channel)} · ${what} · ${campaign.rate_per_second_effective}/s${when}`
    + (campaign.created_by ? ` · created by ${campaign.created_by}` : "");
  $("detail-status").textContent = statusLabel(campaign.status);
  $("detail-status").dataset.status = campaign.status;
  $("detail-failure").textContent = campaign.failure_reason;
  $("detail-failure").hidden = !campaign.failure_reason;
  const tiles = $("tiles");
  tiles.replaceChildren(...TILES.map((name) => {
    const tile = el("div", "tile");
    tile.dataset.count = name;
    tile.append(el("div", "tile-value", count(campaign.counts[name])), el("div", "tile-label", name));
    return tile;
  }));
  $("detail-progress").value = campaign.progress;
  const rates = campaign.delivery_rate === null ? "" :
    ` · delivered ${Math.round(campaign.delivery_rate * 100)}%, read ${Math.round(campaign.read_rate * 100)}%`;
  $("detail-progress-text").textContent = `${Math.round(campaign.progress * 100)}% done${rates}`;
  const eta = campaign.estimated_finish_at;
  $("detail-eta").textContent = eta ? `finishes around ${clockTime(eta)} (in ${duration(Date.parse(eta) - Date.now())})` : "";
  const status = campaign.status;
  $("action-start").hidden = status !== "draft";
  $("action-start").textContent = campaign.scheduled_at && Date.parse(campaign.scheduled_at) > Date.now()
    ? "Schedule" : "Start sending";
  $("action-pause").hidden = status !== "sending";
  $("action-resume").hidden = status !== "paused";
  $("action-stop").hidden = !["sending", "paused", "scheduled"].includes(status);
  $("action-export").href = `/api/v1/campaigns/${campaign.id}/export/`;
  $("upload").hidden = status !== "draft";
  $("edit-form").hidden = !["draft", "scheduled"].includes(status);
  $("progress-line").hidden = status === "draft"; // skipped rows are not progress before it starts
}

async function refresh(id) {
  try {
    const campaign = await api("GET", `/api/v1/campaigns/${id}/`);
    if (page.current && page.current.id === id) {
      page.current = campaign;
      renderDetail(campaign);
      loadRecipients(true);
    }
  } catch (failure) {
    showError(failure.message);
  }
}

async function act(action) {
  const campaign = page.current;
  $("detail-error").hidden = true;
  try {
    const updated = await api("POST", `/api/v1/campaigns/${campaign.id}/${action}/`);
    page.current = updated;
    renderDetail(updated);
  } catch (failure) {
    $("detail-error").textContent = failure.message;
    $("detail-error").hidden = false;
  }
}

/** An ISO time as a datetime-local input's value, in the browser's time zone. */
function localInputValue(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return new Date(moment.getTime() - moment.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** The schedule and rate form shows the campaign's values when opened and once saved (live
 * updates leave what is being typed alone). */
function fillEdit(campaign) {
  $("edit-when").value = localInputValue(campaign.scheduled_at);
  $("edit-rate").value = campaign.rate_per_second === null ? "" : String(campaign.rate_per_second);
  $("edit-rate").placeholder = `as fast as allowed (${boot.rate_allowed[campaign.channel]}/s)`;
  $("edit-saved").textContent = "";
}

async function submitEdit(event) {
  event.preventDefault();
  const campaign = page.current;
  const when = $("edit-when").value;
  const rate = $("edit-rate").value.trim();
  const body = { scheduled_at: when ? new Date(when).toISOString() : null, rate_per_second: rate || null };
  $("detail-error").hidden = true;
  $("edit-save").disabled = true;
  try {
    const updated = await api("PATCH", `/api/v1/campaigns/${campaign.id}/`, body);
    page.current = updated;
    renderDetail(updated);
    fillEdit(updated);
    $("edit-saved").textContent = "Saved.";
  } catch (failure) {
    $("detail-error").textContent = failure.message;
    $("detail-error").hidden = false;
  } finally {
    $("edit-save").disabled = false;
  }
}

async function loadRecipients(fromStart) {
  const campaign = page.current;
  if (!campaign) return;
  if (fromStart) page.recipientsAfter = null;
  const params = new URLSearchParams({ limit: "100" });
  const status = $("recipient-filter").value;
  if (status) params.set("status", status);
  if (page.recipientsAfter) params.set("after", page.recipientsAfter);
  try {
    const answer = await api("GET", `/api/v1/campaigns/${campaign.id}/recipients/?${params}`);
    const body = $("recipient-rows");
    if (fromStart) body.replaceChildren();
    for (const recipient of answer.results) {
      const tr = el("tr");
      tr.dataset.status = recipient.status;
      const reason = recipient.skip_reason ? `${recipient.skip_reason}: ${recipient.skip_detail}` : recipient.error
        || (recipient.not_before && recipient.status === "pending" ? `quiet hours, from ${new Date(recipient.not_before).toLocaleString()}` : "");
      tr.append(el("td", "", recipient.phone), el("td", "", recipient.status), el("td", "muted", reason),
        el("td", "muted", (recipient.parameters || []).join(" · ")));
      body.append(tr);
    }
    page.recipientsAfter = answer.next_after;
    $("recipients-more").hidden = !answer.next_after;
  } catch (failure) {
    showError(failure.message);
  }
}

// --- live -------------------------------------------------------------------------------------------------------
function onCampaignUpdated(campaign) {
  if (page.current && page.current.id === campaign.id) {
    const countsChanged = JSON.stringify(page.current.counts) !== JSON.stringify(campaign.counts);
    page.current = campaign;
    renderDetail(campaign);
    if (countsChanged && !page.recipientsAfter) loadRecipients(true);
  }
  if (!$("list-view").hidden) {
    page.campaigns.set(campaign.id, campaign);
    renderList();
  }
}

let attempts = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/inbox/`);
  const status = $("connection");
  socket.addEventListener("message", (message) => {
    let data;
    try { data = JSON.parse(message.data); } catch (e) { return; }
    if (data.type === "hello") {
      attempts = 0;
      status.dataset.state = "live";
      status.textContent = "Live";
      if (page.current) refresh(page.current.id); // catch up on what a closed socket missed
      else if (!$("list-view").hidden) openList(false);
    } else if (data.type === "campaign.updated" && data.payload && data.payload.campaign) {
      onCampaignUpdated(data.payload.campaign);
    }
  });
  socket.addEventListener("close", (event) => {
    status.dataset.state = event.code === 4403 || event.code === 4401 ? "offline" : "reconnecting";
    status.textContent = status.dataset.state === "offline" ? "Signed out" : "Reconnecting…";
    if (status.dataset.state === "offline") return;
    attempts += 1;
    setTimeout(connect, Math.min(15000, 300 * 2 ** Math.min(attempts, 6)));
  });
  setInterval(() => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify({ type: "ping" })), 15000);
}

// --- wiring -------------------------------------------------------------------------------------------------------
$("new-campaign").addEventListener("click", openCreate);
$("create-cancel").addEventListener("click", () => openList(false));
$("create-form").addEventListener("submit", submitCreate);
$("campaign-channel").addEventListener("change", channelChanged);
$("campaign-template").addEventListener("change", previewCreate);
$("campaign-text").addEventListener("input", previewCreate);
$("back-to-list").addEventListener("click", (event) => { event.preventDefault(); openList(true); });
$("action-start").addEventListener("click", () => act("start"));
$("edit-form").addEventListener("submit", submitEdit);
$("action-pause").addEventListener("click", () => act("pause"));
$("action-resume").addEventListener("click", () => act("resume"));
$("action-stop").addEventListener("click", () => $("confirm-stop").showModal());
$("confirm-stop").addEventListener("close", () => { if ($("confirm-stop").returnValue === "stop") act("stop"); });
$("recipient-filter").addEventListener("change", () => loadRecipients(true));
$("recipients-more").addEventListener("click", () => loadRecipients(false));
window.addEventListener("popstate", () => {
  const match = /^\/campaigns\/(\d+)\/$/.exec(location.pathname);
  if (match) openDetail(Number(match[1]), false);
  else openList(false);
});

if (boot.campaign_id) openDetail(boot.campaign_id, false);
else openList(false);
connect();
