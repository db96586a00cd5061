/* The Reports page: reads GET /api/v1/reports/summary/ for the chosen range and filters, and
 * draws each chart with its table (and CSV). Names (agents, labels, failure reasons) reach the
 * page through textContent only. */

import { api } from "./api.js";
import { $, el } from "./dom.js";
import { barChart, dataTable, heatMap, splitBar } from "./charts.js";

const boot = JSON.parse($("reports-bootstrap").textContent);
const WEEKDAY_NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

const percent = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`);

function options(select, items) {
  items.forEach((item) => {
    const option = el("option", "", item.name);
    option.value = String(item.id);
    select.appendChild(option);
  });
}

function query() {
  const params = new URLSearchParams({ from: $("filter-from").value, to: $("filter-to").value });
  for (const [name, id] of [["channel", "filter-channel"], ["agent", "filter-agent"], ["label", "filter-label"]]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  if ($("filter-business-hours").checked) params.set("business_hours", "true");
  return params;
}

function tile(title, value, detail) {
  const node = el("div", "tile");
  node.appendChild(el("div", "tile-title", title));
  node.appendChild(el("div", "tile-value", value));
  if (detail) node.appendChild(el("div", "tile-detail muted", detail));
  return node;
}

function draw(report, range) {
  const hours = report.business_hours ? " (business hours)" : "";
  $("report-tiles").replaceChildren(
    tile("Conversations opened", report.conversations_opened),
    tile("Resolved", report.conversations_resolved),
    tile("Messages received", report.messages_received),
    tile("Messages sent", report.messages_sent),
    tile("Delivery rate", percent(report.delivery_rate), `${report.messages_delivered} delivered, ${report.messages_failed} failed`),
    tile("Read rate", percent(report.read_rate), `${report.messages_read} read`),
    tile(`First response${hours}`, duration(report.first_response_seconds.median), `p90 ${duration(report.first_response_seconds.p90)}`),
    tile(`Resolution${hours}`, duration(report.resolution_seconds.median), `p90 ${duration(report.resolution_seconds.p90)}`),
  );
  const days = report.by_day.map((d) => d.date.slice(5));
  barChart($("chart-volume"), {
    caption: "Volume per day",
    labels: days,
    series: [
      { name: "Opened", values: report.by_day.map((d) => d.conversations_opened) },
      { name: "Resolved", values: report.by_day.map((d) => d.conversations_resolved) },
      { name: "Received", values: report.by_day.map((d) => d.messages_received) },
      { name: "Sent", values: report.by_day.map((d) => d.messages_sent) },
    ],
  });
  const n = (key, title) => ({ key, title, numeric: true });
  dataTable($("table-volume"), {
    filename: `volume-${range}.csv`,
    columns: [{ key: "date", title: "Day" }, n("conversations_opened", "Opened"), n("conversations_resolved", "Resolved"),
      n("messages_received", "Received"), n("messages_sent", "Sent")],
    rows: report.by_day,
  });

  heatMap($("chart-heat"), {
    caption: "Messages received per hour of the week",
    rows: report.by_hour_of_week.map((row) => ({ name: WEEKDAY_NAMES[row.weekday], values: row.hours })),
  });
  const hourColumns = [{ key: "weekday", title: "Weekday" }, ...Array.from({ length: 24 }, (_, h) => n(`h${h}`, `${String(h).padStart(2, "0")}:00`))];
  dataTable($("table-heat"), {
    filename: `hours-${range}.csv`,
    columns: hourColumns,
    rows: report.by_hour_of_week.map((row) => Object.assign({ weekday: WEEKDAY_NAMES[row.weekday] },
      Object.fromEntries(row.hours.map((value, h) => [`h${h}`, value])))),
  });

  const waiting = Math.max(0, report.messages_sent - report.messages_delivered - report.messages_failed);
  splitBar($("chart-delivery"), {
    caption: "What became of the messages sent",
    parts: [
      { name: "Read", value: report.messages_read },
      { name: "Delivered, not read", value: report.messages_delivered - report.messages_read },
      { name: "Failed", value: report.messages_failed },
      { name: "No report yet", value: waiting },
    ],
  });
  dataTable($("table-delivery"), {
    filename: `delivery-${range}.csv`,
    columns: [{ key: "date", title: "Day" }, n("messages_sent", "Sent"), n("messages_delivered", "Delivered"),
      n("messages_read", "Read"), n("messages_failed", "Failed")],
    rows: report.by_day,
  });
  dataTable($("table-failures"), {
    filename: `failure-reasons-${range}.csv`,
    empty: "No failed messages in this range.",
    columns: [{ key: "reason", title: "Reason" }, { key: "explanation", title: "What it means" },
      { key: "error_code", title: "Code" }, n("count", "Messages")],
    rows: report.failure_reasons,
  });

  barChart($("chart-agents"), {
    caption: "Replies and conversations per agent",
    labels: report.by_agent.map((a) => a.name),
    series: [
      { name: "Conversations handled", values: report.by_agent.map((a) => a.conversations_handled) },
      { name: "Replies sent", values: report.by_agent.map((a) => a.replies_sent) },
    ],
  });
  dataTable($("table-agents"), {
    filename: `agents-${range}.csv`,
    columns: [{ key: "name", title: "Agent" }, n("conversations_handled", "Conversations handled"), n("replies_sent", "Replies sent"),
      { key: "first_median", title: `Median first response${hours} (s)`, numeric: true },
      { key: "resolution_median", title: `Median resolution${hours} (s)`, numeric: true }],
    rows: report.by_agent.map((a) => Object.assign({}, a, {
      first_median: a.first_response_seconds.median, resolution_median: a.resolution_seconds.median })),
  });
  dataTable($("table-labels"), {
    filename: `labels-${range}.csv`,
    empty: "No labelled conversations in this range.",
    columns: [{ key: "name", title: "Label" }, n("conversations_opened", "Opened"), n("conversations_resolved", "Resolved"),
      n("messages_received", "Received"), n("messages_sent", "Sent"), n("messages_failed", "Failed")],
    rows: report.by_label,
  });
  barChart($("chart-optouts"), {
    caption: "Opt-outs per day", labels: days, series: [{ name: "Opt-outs", values: report.by_day.map((d) => d.opt_outs) }],
  });
  dataTable($("table-optouts"), {
    filename: `opt-outs-${range}.csv`,
    columns: [{ key: "date", title: "Day" }, n("opt_outs", "Opt-outs")],
    rows: report.by_day,
  });
}

async function load() {
  $("report-error").hidden = true;
  $("report-loading").hidden = false;
  const params = query();
  try {
    const report = await api("GET", `/api/v1/reports/summary/?${params}`);
    draw(report, `${params.get("from")}_${params.get("to")}`);
    history.replaceState(null, "", `?${params}`);
  } catch (failure) {
    $("report-error").textContent = failure.message;
    $("report-error").hidden = false;
  } finally {
    $("report-loading").hidden = true;
  }
}

function start() {
  options($("filter-agent"), boot.agents);
  options($("filter-label"), boot.labels.map((label) => ({ id: label.name, name: label.name })));
  const given = new URLSearchParams(location.search);
  $("filter-from").value = given.get("from") || boot.from;
  $("filter-to").value = given.get("to") || boot.to;
  $("filter-channel").value = given.get("channel") || "";
  $("filter-agent").value = given.get("agent") || "";
  $("filter-label").value = given.get("label") || "";
  $("filter-business-hours").checked = given.get("business_hours") === "true";
  $("report-zone").textContent = `Days in ${boot.time_zone}`;
  $("definitions-zone").textContent = boot.time_zone;
  $("report-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
}

start();
