/* Recipients from a CSV file: read in the browser, its columns mapped to the phone and to each
 * parameter of the message, a per-recipient preview of what each will get, then sent to the API
 * in batches (so a 100,000-row file never hits the request size limit), with the skipped-row
 * report the server gives back. */

import { api } from "./api.js";
import { $, el } from "./dom.js";
import { count } from "./format.js";

const PREVIEW_ROWS = 5;

/** Rows of a CSV text (quotes, doubled quotes, CRLF), with its delimiter guessed from the header. */
export function parseCsv(text) {
  text = text.replace(/^\uFEFF/, "");
  const firstLine = text.split(/\r?\n/, 1)[0] || "";
  const delimiter = [",", ";", "\t"].reduce((best, d) => (firstLine.split(d).length > firstLine.split(best).length ? d : best), ",");
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === "") quoted = true;
    else if (c === delimiter) { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows.filter((r) => r.some((value) => value.trim() !== ""));
}

/** The message one recipient gets: `segments` of {text} and {slot: n, value} (shown highlighted when missing). */
export function renderSegments(source, values) {
  const segments = [];
  let last = 0;
  const pattern = /\{\{\s*(\d+)\s*\}\}/g;
  let match;
  while ((match = pattern.exec(source))) {
    if (match.index > last) segments.push({ text: source.slice(last, match.index) });
    const n = Number(match[1]);
    const value = values[n - 1];
    segments.push(value ? { text: value } : { slot: n });
    last = match.index + match[0].length;
  }
  if (last < source.length) segments.push({ text: source.slice(last) });
  return segments;
}

export function fillBubble(node, segments) {
  node.replaceChildren(...segments.map((s) => (s.slot ? el("span", "slot", `{{${s.slot}}}`) : document.createTextNode(s.text))));
}

function columnSelect(id, header, selected) {
  const select = el("select");
  select.id = id;
  header.forEach((name, index) => {
    const option = el("option", "", name || `column ${index + 1}`);
    option.value = String(index);
    option.selected = index === selected;
    select.append(option);
  });
  return select;
}

/** Forget the file and report of the campaign shown before (call before `setupUpload`). */
export function resetUpload() {
  $("csv-file").onchange = null; // until setupUpload() wires it for the campaign now shown
  $("csv-file").value = "";
  $("mapping").hidden = true;
  $("skipped-report").hidden = true;
}

/**
 * Wire the upload area of a draft campaign.
 * `message`: {parameterCount, preview(values) -> segments}; `onAdded()`: after recipients were added.
 */
export function setupUpload({ campaignId, message, batchSize, maxRows, onAdded }) {
  let header = [];
  let rows = [];
  const file = $("csv-file");

  file.onchange = async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const parsed = parseCsv(await chosen.text());
    header = parsed[0] || [];
    rows = parsed.slice(1);
    if (!header.length || !rows.length) return showUploadProblem("The file needs a header row and at least one recipient.");
    if (rows.length > maxRows) return showUploadProblem(`The file has ${count(rows.length)} rows; the limit is ${count(maxRows)}. Split it.`);
    buildMapping();
  };

  if (file.files[0]) file.onchange(); // chosen while the message was being loaded

  function showUploadProblem(text) {
    $("mapping").hidden = true;
    $("upload-progress").textContent = "";
    $("detail-error").textContent = text;
    $("detail-error").hidden = false;
  }

  function buildMapping() {
    $("detail-error").hidden = true;
    const lowered = header.map((name) => name.trim().toLowerCase());
    const phoneIndex = Math.max(0, lowered.findIndex((name) => name === "phone" || name === "mobile" || name === "number"));
    $("map-phone").replaceWith(columnSelect("map-phone", header, phoneIndex));
    const others = header.map((_, index) => index).filter((index) => index !== phoneIndex);
    const parameters = $("map-parameters");
    parameters.replaceChildren();
    for (let n = 1; n <= message.parameterCount; n++) {
      const label = el("label", "", `Parameter {{${n}}}`);
      label.htmlFor = `map-parameter-${n}`;
      parameters.append(label, columnSelect(`map-parameter-${n}`, header, others[n - 1] ?? -1));
    }
    if (!message.parameterCount) parameters.append(el("span", "muted", "This message takes no parameters."));
    $("mapping").hidden = false;
    $("upload-progress").textContent = `${count(rows.length)} rows in the file.`;
    $("mapping").onchange = preview;
    preview();
  }

  function mapped(row) {
    const cell = (index) => (index >= 0 && index < row.length ? row[index].trim() : "");
    const parameters = [];
    for (let n = 1; n <= message.parameterCount; n++) parameters.push(cell(Number($(`map-parameter-${n}`).value)));
    return { phone: cell(Number($("map-phone").value)), parameters };
  }

  function preview() {
    const list = $("row-preview");
    list.replaceChildren();
    for (const row of rows.slice(0, PREVIEW_ROWS)) {
      const recipient = mapped(row);
      const bubble = el("div", "preview-bubble");
      fillBubble(bubble, message.preview(recipient.parameters));
      const item = el("li");
      item.append(el("span", "", recipient.phone || "(no phone)"), bubble);
      list.append(item);
    }
    if (rows.length > PREVIEW_ROWS) list.append(el("li", "muted", `… and ${count(rows.length - PREVIEW_ROWS)} more`));
  }

  $("add-recipients").onclick = async () => {
    const button = $("add-recipients");
    button.disabled = true;
    const totals = { added: 0, skipped: 0, skipped_rows: [] };
    try {
      for (let start = 0; start < rows.length; start += batchSize) {
        const batch = rows.slice(start, start + batchSize).map(mapped);
        const answer = await api("POST", `/api/v1/campaigns/${campaignId}/recipients/`, { recipients: batch });
        totals.added += answer.added;
        totals.skipped += answer.skipped;
        for (const skipped of answer.skipped_rows) totals.skipped_rows.push({ ...skipped, row: skipped.row + start });
        $("upload-progress").textContent = `Added ${count(totals.added)}, skipped ${count(totals.skipped)} of ${count(rows.length)}…`;
      }
      $("upload-progress").textContent = `Added ${count(totals.added)}, skipped ${count(totals.skipped)}.`;
      $("mapping").hidden = true;
      file.value = "";
      showSkipped(totals);
    } catch (failure) {
      showUploadProblem(failure.message);
    } finally {
      button.disabled = false;
      onAdded();
    }
  };
}

function showSkipped(totals) {
  const report = $("skipped-report");
  report.hidden = false;
  $("skipped-title").textContent = totals.skipped
    ? `${count(totals.skipped)} row${totals.skipped === 1 ? "" : "s"} will not be sent`
    : "Every row can be sent.";
  const body = $("skipped-rows");
  body.replaceChildren();
  for (const skipped of totals.skipped_rows.slice(0, 1000)) {
    const tr = el("tr");
    tr.append(el("td", "", skipped.row), el("td", "", skipped.phone), el("td", "", skipped.reason), el("td", "", skipped.detail));
    body.append(tr);
  }
}
