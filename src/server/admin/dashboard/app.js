// The dashboard page: reads /stats.json and the new samples of /history.json about once a second
// (less often when the answers are slow to come: a server with many queues is not asked faster
// than it answers), /config.json every few seconds, and draws the server's figures, the table of
// queues and the chart of the selected queue (all queues when none is). The selection lives in
// the URL (#queue=<name>), so a reload or a shared link shows the same queue. When the server
// does not answer, the page says so and keeps trying; it never throws into the console.
import { changeStatus, deleteQueue, flushQueue, savedToken, saveToken } from "./actions.js";
import { drawChart, lastKnown, sampleAt } from "./charts.js";
import { formatBytes, formatClock, formatCount, formatDuration, formatRate } from "./format.js";
import { QueueTable } from "./table.js";

const POLL_MS = 1000;
const CONFIG_EVERY_MS = 10_000;
/** A poll that takes t ms is followed by one no sooner than SLOW_FACTOR * t later. */
const SLOW_FACTOR = 4;
/** The settings shown beside the chart, and how each is written (as /config.json has them: text). */
const SETTINGS_SHOWN = [
  ["sync_journal", String],
  ["journal", String],
  ["max_items", String],
  ["max_size", bytesSetting],
  ["max_item_size", bytesSetting],
  ["max_memory_size", bytesSetting],
  ["max_age", durationSetting],
  ["discard_old_when_full", String],
  ["move_expired_to", String],
  ["open_transaction_timeout", durationSetting],
];

function bytesSetting(text) {
  return /^\d+$/.test(text) ? formatBytes(Number(text)) : text;
}

function durationSetting(text) {
  return text === "0" ? "off" : /^\d+$/.test(text) ? formatDuration(Number(text)) : text;
}

const $ = (id) => document.getElementById(id);

const state = {
  stats: null,
  history: emptyHistory(),
  config: null,
  configAt: -Infinity,
  selected: selectedFromUrl(),
  hover: null,
  lastAnswerAt: null,
  failure: null,
};

function emptyHistory() {
  return { last: -1, samples: 900, interval_ms: 1000, tracked_queues: 100, times: [], server: {}, queues: new Map(), rates: {} };
}

function selectedFromUrl() {
  const match = /^#queue=(.+)$/.exec(location.hash);
  return match === null ? null : decodeURIComponent(match[1]);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

/** Adds the samples of a /history.json answer to what the page holds, keeping the server's window. */
function mergeHistory(history, delta) {
  const before = history.times.length;
  Object.assign(history, { last: delta.last, samples: delta.samples, interval_ms: delta.interval_ms, tracked_queues: delta.tracked_queues, rates: delta.rates });
  history.times.push(...delta.times);
  for (const [name, values] of Object.entries(delta.server)) (history.server[name] ??= new Array(before).fill(null)).push(...values);
  // A queue the answer leaves out is no longer kept by the server (or is gone): so here too.
  for (const name of history.queues.keys()) if (!(name in delta.queues)) history.queues.delete(name);
  for (const [name, series] of Object.entries(delta.queues)) {
    if (!history.queues.has(name)) history.queues.set(name, Object.fromEntries(Object.keys(series).map((key) => [key, new Array(before).fill(null)])));
    const mine = history.queues.get(name);
    for (const [key, values] of Object.entries(series)) mine[key].push(...values);
  }
  const extra = history.times.length - history.samples;
  if (extra <= 0) return;
  history.times.splice(0, extra);
  for (const values of Object.values(history.server)) values.splice(0, extra);
  for (const series of history.queues.values()) for (const values of Object.values(series)) values.splice(0, extra);
}

async function fetchHistory() {
  let delta = await getJson(`/history.json?after=${state.history.last}`);
  const held = state.history.times;
  const restarted = delta.last < state.history.last || (delta.times.length > 0 && held.length > 0 && delta.times[0] <= held[held.length - 1]);
  if (restarted || delta.first > state.history.last + 1) {
    // The server restarted (its samples start again at 0), or this page fell behind its window.
    state.history = emptyHistory();
    delta = await getJson("/history.json");
  }
  mergeHistory(state.history, delta);
}

async function fetchConfig(force) {
  if (!force && performance.now() - state.configAt < CONFIG_EVERY_MS) return;
  const query = state.selected === null ? "queue=" : `queue=${encodeURIComponent(state.selected)}`;
  state.config = await getJson(`/config.json?${query}`);
  state.configAt = performance.now();
}

let timer = null;
let polling = false;
let pollAgain = false;

/** Reads the server now (or right after the read under way), then about once a second. */
async function poll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  clearTimeout(timer);
  const started = performance.now();
  try {
    const [stats] = await Promise.all([getJson("/stats.json"), fetchHistory(), fetchConfig(false)]);
    state.stats = stats;
    if (state.selected !== null && !(state.selected in stats.queues)) select(null);
    state.lastAnswerAt = Date.now();
    state.failure = null;
  } catch (error) {
    state.failure = error.message;
  }
  try {
    render();
  } finally {
    // Even if drawing failed (a bug, reported in the console), the page keeps reading.
    polling = false;
    const took = performance.now() - started;
    if (pollAgain) {
      pollAgain = false;
      void poll();
    } else {
      timer = setTimeout(poll, Math.max(POLL_MS - took, SLOW_FACTOR * took));
    }
  }
}

function select(name) {
  state.selected = name;
  state.hover = null;
  history.replaceState(null, "", name === null ? location.pathname : `#queue=${encodeURIComponent(name)}`);
  fetchConfig(true).then(render, () => {});
  render();
}

function render() {
  renderConnection();
  if (state.stats === null) return;
  renderServer(state.stats.server);
  renderQueues();
  renderChart();
  renderSettings();
}

function renderConnection() {
  const line = $("connection");
  line.classList.toggle("lost", state.failure !== null);
  if (state.failure === null) line.textContent = state.lastAnswerAt === null ? "connecting…" : `updated ${formatClock(state.lastAnswerAt)}`;
  else line.textContent = `no answer from the server${state.lastAnswerAt === null ? "" : ` since ${formatClock(state.lastAnswerAt)}`} (${state.failure}); retrying`;
}

function renderServer(server) {
  const last = (name) => lastKnown(state.history.server[name] ?? []);
  $("version").textContent = server.version;
  const badge = $("server-status");
  badge.textContent = server.status;
  badge.className = `status status-${server.status}`;
  const select = $("status-select");
  if (document.activeElement !== select && select.dataset.shown !== server.status) {
    select.value = server.status;
    select.dataset.shown = server.status;
  }
  $("uptime").textContent = formatDuration(server.uptime * 1000);
  $("connections").textContent = formatCount(server.curr_connections);
  $("memory").textContent = formatBytes(server.resident_bytes);
  $("sync").textContent = state.config?.queue_defaults.sync_journal ?? "–";
  $("total-items").textContent = `${formatCount(server.curr_items)} (${formatBytes(server.bytes)})`;
  $("total-rates").textContent = `${formatRate(last("in_per_second"))} / ${formatRate(last("out_per_second"))}`;
  document.title = `kestrel · ${server.status} · ${formatCount(server.curr_items)} items`;
}

function renderQueues() {
  const rates = state.history.rates;
  const queues = Object.entries(state.stats.queues).map(([name, q]) => ({
    ...q,
    name,
    disk_items: q.items - q.mem_items,
    in: rates[name]?.[0] ?? 0,
    out: rates[name]?.[1] ?? 0,
    series: state.history.queues.get(name) ?? null,
    failure: q.journal_failure,
  }));
  const { shown, matching } = table.update(queues, state.history, state.selected);
  const total = queues.length;
  $("shown-count").textContent =
    shown < matching ? `showing ${shown} of ${formatCount(matching)} queues: filter to find others` : `${formatCount(matching)} of ${formatCount(total)} queues`;
  $("history-note").textContent = `history: the last ${state.history.samples * state.history.interval_ms / 60_000} minutes, for the ${state.history.tracked_queues} busiest and deepest queues`;
}

/** The series the chart shows: the selected queue's, or the server's totals. */
function chartSeries() {
  const history = state.history;
  if (state.selected === null) return history.server.items === undefined ? emptySeries(0) : history.server;
  return history.queues.get(state.selected) ?? emptySeries(history.times.length);
}

function emptySeries(length) {
  const none = () => new Array(length).fill(null);
  return { items: none(), bytes: none(), in_per_second: none(), out_per_second: none() };
}

function renderChart() {
  const svg = $("chart");
  const tracked = state.selected === null || state.history.queues.has(state.selected);
  $("chart-title").textContent = state.selected === null ? "all queues" : `queue ${state.selected}`;
  $("chart-note").textContent = tracked ? "" : "the server keeps no history of this queue now (only of the busiest and deepest)";
  $("show-all").hidden = state.selected === null;
  svg.dataset.queue = state.selected ?? "";
  drawChart(svg, state.history, chartSeries(), state.hover);
}

function renderSettings() {
  const list = $("settings");
  const settings = state.selected === null ? state.config?.queue_defaults : state.config?.queues[state.selected];
  $("settings-title").textContent = state.selected === null ? "queue defaults" : "settings";
  list.replaceChildren();
  if (settings === undefined) return;
  for (const [key, format] of SETTINGS_SHOWN) {
    const term = document.createElement("dt");
    term.textContent = key;
    const value = document.createElement("dd");
    value.textContent = format(settings[key]);
    list.append(term, value);
  }
}

function report(result) {
  if (result === null) return;
  const message = $("message");
  message.textContent = result.text;
  message.className = result.ok ? "ok" : "error";
  if (result.needsToken) $("token").focus();
  void poll();
}

const table = new QueueTable(
  $("queue-table"),
  $("filter"),
  (name) => select(name === state.selected ? null : name),
  async (kind, name) => {
    const items = state.stats?.queues[name]?.items ?? 0;
    report(await (kind === "flush" ? flushQueue : deleteQueue)(name, items, $("token").value));
  },
);

$("token").value = savedToken();
$("token").addEventListener("input", (event) => saveToken(event.target.value));
$("status-apply").addEventListener("click", async () => {
  const current = state.stats?.server.status;
  if (current === undefined) return;
  report(await changeStatus(current, $("status-select").value, $("token").value));
});
$("show-all").addEventListener("click", () => select(null));
$("chart").addEventListener("pointermove", (event) => {
  state.hover = sampleAt($("chart"), state.history, event.clientX);
  renderChart();
});
$("chart").addEventListener("pointerleave", () => {
  state.hover = null;
  renderChart();
});
addEventListener("resize", () => state.stats !== null && renderChart());
addEventListener("hashchange", () => select(selectedFromUrl()));
void poll();
