// The dashboard's charts, drawn as SVG by hand (no library): a sparkline in each queue's row and
// the large chart of the selected queue (or of all queues). Both take series aligned with the
// history's sample times, where null means "not known" (the server kept no series for that queue
// then): a gap is drawn as a gap, never as zero. Each draw replaces the SVG's content whole, and
// leaves what it drew in data- attributes (samples, last values) for tests and tools to read.
import { formatBytes, formatClock, formatCount, formatRate } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const SPARK_WIDTH = 120;
const SPARK_HEIGHT = 28;
const CHART_HEIGHT = 300;
const MARGIN = { left: 64, right: 16, top: 24, bottom: 22 };
/** The gap between the depth panel (top) and the rates panel (bottom). */
const PANEL_GAP = 26;
/** The charts span at least this much time: the first seconds of a history don't fill them. */
const MIN_WINDOW_MS = 2 * 60_000;

function add(parent, name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  parent.append(node);
  return node;
}

/** The time the charts span: from the first sample (or MIN_WINDOW_MS before the last) to the last. */
function timeWindow(times) {
  const end = times[times.length - 1];
  return { start: Math.min(times[0], end - MIN_WINDOW_MS), end };
}

/** The largest known value of `values`, at least `floor`. */
function maxOf(values, floor) {
  let max = floor;
  for (const value of values) if (value !== null && value > max) max = value;
  return max;
}

/** The last known value of `values`, or null. */
export function lastKnown(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/**
 * An SVG path through the known points of `values` (x from `xOf(i)`, y scaled so `max` is at
 * `top` and 0 at `bottom`); a null starts a new segment. At most one point per pixel column: the
 * largest value of the samples that fall in it, so a short spike still shows.
 */
function linePath(values, xOf, max, top, bottom) {
  const scale = max > 0 ? (bottom - top) / max : 0;
  const columns = new Map();
  values.forEach((value, i) => {
    if (value === null) return;
    const x = Math.round(xOf(i));
    const y = bottom - value * scale;
    const seen = columns.get(x);
    if (seen === undefined || y < seen.y) columns.set(x, { y, i });
  });
  let d = "";
  let previous = -1;
  for (const [x, { y, i }] of columns) {
    d += `${d !== "" && noGapBetween(values, previous, i) ? "L" : "M"}${x} ${y.toFixed(1)}`;
    previous = i;
  }
  return d;
}

/** Whether every value strictly between indexes `from` and `to` is known. */
function noGapBetween(values, from, to) {
  for (let i = from + 1; i < to; i++) if (values[i] === null) return false;
  return true;
}

/** The area under a line path, down to `bottom`. */
function areaPath(line, bottom) {
  return line
    .split("M")
    .filter((segment) => segment !== "")
    .map((segment) => {
      const points = segment.split("L");
      const firstX = points[0].split(" ")[0];
      const lastX = points[points.length - 1].split(" ")[0];
      return `M${firstX} ${bottom}L${segment}L${lastX} ${bottom}Z`;
    })
    .join("");
}

/**
 * A row's sparkline: queue depth as a shaded area (its own scale), items in and out per second as
 * two lines (one shared scale), over the same time as the large chart. `series` is null for a
 * queue the server keeps no history of.
 */
export function drawSparkline(svg, history, series) {
  svg.setAttribute("viewBox", `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`);
  svg.replaceChildren();
  const known = series === null ? 0 : series.items.filter((value) => value !== null).length;
  svg.dataset.samples = String(known);
  if (series === null || known === 0) return;
  const { start, end } = timeWindow(history.times);
  const xOf = (i) => ((history.times[i] - start) / (end - start)) * SPARK_WIDTH;
  const depth = linePath(series.items, xOf, maxOf(series.items, 1), 2, SPARK_HEIGHT - 1);
  add(svg, "path", { d: areaPath(depth, SPARK_HEIGHT - 1), class: "depth" });
  const rateMax = maxOf(series.in_per_second, maxOf(series.out_per_second, 1));
  add(svg, "path", { d: linePath(series.in_per_second, xOf, rateMax, 2, SPARK_HEIGHT - 1), class: "rate-in" });
  add(svg, "path", { d: linePath(series.out_per_second, xOf, rateMax, 2, SPARK_HEIGHT - 1), class: "rate-out" });
}

/**
 * The large chart: depth (items) on top, items in and out per second below, over the history
 * (at least MIN_WINDOW_MS) up to the last sample. `hover` is a sample index to mark, or null.
 */
export function drawChart(svg, history, series, hover) {
  const width = Math.max(320, Math.round(svg.clientWidth || 800));
  svg.setAttribute("viewBox", `0 0 ${width} ${CHART_HEIGHT}`);
  svg.replaceChildren();
  const times = history.times;
  svg.dataset.samples = String(series.items.filter((value) => value !== null).length);
  svg.dataset.lastItems = String(lastKnown(series.items) ?? "");
  svg.dataset.lastIn = String(lastKnown(series.in_per_second) ?? "");
  svg.dataset.lastOut = String(lastKnown(series.out_per_second) ?? "");
  svg.dataset.peakIn = String(maxOf(series.in_per_second, 0));
  svg.dataset.peakOut = String(maxOf(series.out_per_second, 0));
  if (times.length === 0) {
    add(svg, "text", { x: width / 2, y: CHART_HEIGHT / 2, class: "empty" }, "waiting for the first sample…");
    return;
  }
  const { start, end } = timeWindow(times);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const xOfTime = (time) => MARGIN.left + ((time - start) / (end - start)) * plotWidth;
  const xOf = (i) => xOfTime(times[i]);
  const panelHeight = (CHART_HEIGHT - MARGIN.top - MARGIN.bottom - PANEL_GAP) / 2;
  const depthPanel = { top: MARGIN.top, bottom: MARGIN.top + panelHeight };
  const ratePanel = { top: depthPanel.bottom + PANEL_GAP, bottom: CHART_HEIGHT - MARGIN.bottom };

  const depthMax = niceCeiling(maxOf(series.items, 1));
  const rateMax = niceCeiling(maxOf(series.in_per_second, maxOf(series.out_per_second, 1)));
  drawPanelAxis(svg, depthPanel, depthMax, width, "items", formatCount);
  drawPanelAxis(svg, ratePanel, rateMax, width, "items / s", formatRate);
  drawTimeAxis(svg, start, end, xOfTime);

  const depth = linePath(series.items, xOf, depthMax, depthPanel.top, depthPanel.bottom);
  add(svg, "path", { d: areaPath(depth, depthPanel.bottom), class: "depth" });
  add(svg, "path", { d: depth, class: "depth-line" });
  add(svg, "path", { d: linePath(series.in_per_second, xOf, rateMax, ratePanel.top, ratePanel.bottom), class: "rate-in" });
  add(svg, "path", { d: linePath(series.out_per_second, xOf, rateMax, ratePanel.top, ratePanel.bottom), class: "rate-out" });
  drawLegend(svg, width);
  if (hover !== null && hover < times.length) drawHover(svg, history, series, hover, xOf(hover), width);
}

/** 0..max gridlines and labels at the left of one panel, and the panel's name. */
function drawPanelAxis(svg, panel, max, width, name, format) {
  for (const fraction of [0, 0.5, 1]) {
    const y = panel.bottom - fraction * (panel.bottom - panel.top);
    add(svg, "line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y, class: fraction === 0 ? "axis" : "grid" });
    add(svg, "text", { x: MARGIN.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format(max * fraction));
  }
  add(svg, "text", { x: MARGIN.left, y: panel.top - 8, class: "panel-name" }, name);
}

/** Clock times under the plot, on round times: about five of them. */
function drawTimeAxis(svg, start, end, xOfTime) {
  const step = [30_000, 60_000, 2 * 60_000, 3 * 60_000, 5 * 60_000].find((ms) => (end - start) / ms <= 6) ?? 10 * 60_000;
  for (let time = Math.ceil(start / step) * step; time <= end; time += step) {
    const clock = formatClock(time);
    add(svg, "text", { x: xOfTime(time), y: CHART_HEIGHT - 6, class: "tick", "text-anchor": "middle" }, step < 60_000 ? clock : clock.slice(0, 5));
  }
}

function drawLegend(svg, width) {
  let x = width - MARGIN.right - 320;
  for (const [label, className] of [["items queued", "depth-line"], ["in / s", "rate-in"], ["out / s", "rate-out"]]) {
    add(svg, "line", { x1: x, x2: x + 16, y1: 10, y2: 10, class: className });
    add(svg, "text", { x: x + 20, y: 14, class: "legend" }, label);
    x += 110;
  }
}

/** A vertical line at sample `index` and its values. */
function drawHover(svg, history, series, index, x, width) {
  add(svg, "line", { x1: x, x2: x, y1: MARGIN.top, y2: CHART_HEIGHT - MARGIN.bottom, class: "hover" });
  const at = (values) => values[index];
  const parts = [
    formatClock(history.times[index]),
    at(series.items) === null ? "not kept" : `${formatCount(at(series.items))} items (${formatBytes(at(series.bytes))})`,
    at(series.in_per_second) === null ? "" : `in ${formatRate(at(series.in_per_second))}/s · out ${formatRate(at(series.out_per_second))}/s`,
  ].filter((part) => part !== "");
  const anchor = x > width / 2 ? "end" : "start";
  add(svg, "text", { x: anchor === "end" ? x - 6 : x + 6, y: MARGIN.top + 14, class: "hover-text", "text-anchor": anchor }, parts.join(" · "));
}

/** The sample index nearest to `clientX` over the chart, or null outside the plot. */
export function sampleAt(svg, history, clientX) {
  const times = history.times;
  if (times.length === 0) return null;
  const box = svg.getBoundingClientRect();
  const width = Math.max(320, Math.round(svg.clientWidth || 800));
  const x = ((clientX - box.left) / box.width) * width;
  if (x < MARGIN.left || x > width - MARGIN.right) return null;
  const { start, end } = timeWindow(times);
  const time = start + ((x - MARGIN.left) / (width - MARGIN.left - MARGIN.right)) * (end - start);
  let best = 0;
  for (let i = 1; i < times.length; i++) if (Math.abs(times[i] - time) < Math.abs(times[best] - time)) best = i;
  return best;
}

/** A round number at or above `value`: 1, 2 or 5 times a power of ten. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
