/* Small SVG charts and their tables, built with DOM calls only (no HTML strings, no inline
 * style: the CSP allows neither). Colours come from CSS classes (.series-0 ...). Every chart
 * sits beside a table of the same numbers, and every table exports as CSV. */

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svgNode(tag, attributes, className) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (className) node.setAttribute("class", className);
  return node;
}

function titled(node, text) {
  const title = svgNode("title");
  title.textContent = text;
  node.appendChild(title);
  return node;
}

/** Grouped bars: `labels` along the bottom, one bar per series per label. */
export function barChart(container, { labels, series, height = 180, caption }) {
  container.replaceChildren();
  const width = Math.max(320, labels.length * (series.length * 7 + 6) + 40);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const svg = svgNode("svg", { viewBox: `0 0 ${width} ${height + 30}`, role: "img", "aria-label": caption }, "chart-svg");
  const plot = height - 10;
  svg.appendChild(svgNode("line", { x1: 30, y1: plot, x2: width, y2: plot }, "axis"));
  const top = svgNode("text", { x: 0, y: 12 }, "chart-tick");
  top.textContent = String(max);
  svg.appendChild(top);
  const slot = (width - 40) / Math.max(1, labels.length);
  const bar = Math.max(2, (slot - 4) / series.length);
  labels.forEach((label, index) => {
    series.forEach((s, n) => {
      const value = s.values[index] || 0;
      const h = (value / max) * (plot - 14);
      const x = 34 + index * slot + n * bar;
      svg.appendChild(titled(svgNode("rect", { x, y: plot - h, width: Math.max(1, bar - 1), height: h }, `series-${n}`),
        `${label} · ${s.name}: ${value}`));
    });
    const every = Math.ceil(labels.length / 10);
    if (index % every === 0) {
      const tick = svgNode("text", { x: 34 + index * slot, y: height + 12 }, "chart-tick");
      tick.textContent = label;
      svg.appendChild(tick);
    }
  });
  container.appendChild(svg);
  container.appendChild(legend(series.map((s) => s.name)));
}

/** A 7 × 24 grid, darker where the value is higher. */
export function heatMap(container, { rows, caption }) {
  container.replaceChildren();
  const cell = 22;
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const svg = svgNode("svg", { viewBox: `0 0 ${40 + 24 * cell} ${20 + rows.length * cell}`, role: "img", "aria-label": caption }, "chart-svg heat");
  for (let hour = 0; hour < 24; hour += 3) {
    const tick = svgNode("text", { x: 40 + hour * cell, y: 12 }, "chart-tick");
    tick.textContent = `${String(hour).padStart(2, "0")}h`;
    svg.appendChild(tick);
  }
  rows.forEach((row, r) => {
    const name = svgNode("text", { x: 0, y: 20 + r * cell + 15 }, "chart-tick");
    name.textContent = row.name;
    svg.appendChild(name);
    row.values.forEach((value, hour) => {
      const shade = value ? Math.max(1, Math.ceil((value / max) * 5)) : 0;
      svg.appendChild(titled(svgNode("rect", { x: 40 + hour * cell, y: 20 + r * cell, width: cell - 2, height: cell - 2 }, `heat-${shade}`),
        `${row.name} ${String(hour).padStart(2, "0")}:00: ${value}`));
    });
  });
  container.appendChild(svg);
}

/** One horizontal bar split in parts (e.g. delivered / failed / waiting). */
export function splitBar(container, { parts, caption }) {
  container.replaceChildren();
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  const svg = svgNode("svg", { viewBox: "0 0 600 34", role: "img", "aria-label": caption }, "chart-svg");
  let x = 0;
  parts.forEach((part, n) => {
    const w = total ? (part.value / total) * 600 : 0;
    svg.appendChild(titled(svgNode("rect", { x, y: 4, width: w, height: 26 }, `series-${n}`), `${part.name}: ${part.value}`));
    x += w;
  });
  if (!total) svg.appendChild(svgNode("rect", { x: 0, y: 4, width: 600, height: 26 }, "empty"));
  container.appendChild(svg);
  container.appendChild(legend(parts.map((part) => part.name)));
}

function legend(names) {
  const list = el("ul", "legend");
  names.forEach((name, n) => {
    const item = el("li");
    item.appendChild(el("span", `swatch series-${n}`));
    item.appendChild(document.createTextNode(name));
    list.appendChild(item);
  });
  return list;
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  // A leading = + - @ would run as a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(columns, rows) {
  return [columns.map((c) => csvCell(c.title)), ...rows.map((row) => columns.map((c) => csvCell(row[c.key])))]
    .map((line) => line.join(","))
    .join("\r\n") + "\r\n";
}

/** A table of `rows` (objects) under `columns` [{key, title}], with a CSV download named `filename`. */
export function dataTable(container, { columns, rows, filename, empty = "Nothing in this range." }) {
  container.replaceChildren();
  const toolbar = el("div", "table-toolbar");
  const download = el("button", "btn btn-small", "Export CSV");
  download.type = "button";
  download.dataset.csv = filename;
  download.addEventListener("click", () => {
    const blob = new Blob([toCsv(columns, rows)], { type: "text/csv;charset=utf-8" });
    const link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
  toolbar.appendChild(download);
  container.appendChild(toolbar);
  if (!rows.length) {
    container.appendChild(el("p", "muted", empty));
    return;
  }
  const table = el("table", "data");
  const head = el("tr");
  columns.forEach((c) => head.appendChild(el("th", c.numeric ? "num" : "", c.title)));
  table.appendChild(el("thead")).appendChild(head);
  const body = el("tbody");
  rows.forEach((row) => {
    const tr = el("tr");
    columns.forEach((c) => tr.appendChild(el("td", c.numeric ? "num" : "", c.format ? c.format(row[c.key]) : row[c.key] ?? "—")));
    body.appendChild(tr);
  });
  table.appendChild(body);
  container.appendChild(table);
}
