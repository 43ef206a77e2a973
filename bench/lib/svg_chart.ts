/**
 * A grouped bar chart as a standalone SVG document, written by hand: panels stacked top to
 * bottom, each with a group of bars per category (a scenario) and a bar per series (a target) in
 * that series' colour, its value printed above it, and one legend for all panels.
 *
 * Invariants: the output is well-formed XML (all text escaped, every element closed); a missing
 * value (NaN) draws neither bar nor label; bars are linear from 0 to the panel's largest value.
 */

export interface ChartPanel {
  /** Says what the values are, with their unit. */
  readonly title: string;
  /** A value as its label shows it. */
  readonly format: (value: number) => string;
  /** values[series][category]; NaN where there is none. */
  readonly values: ReadonlyArray<readonly number[]>;
}

export interface Chart {
  readonly title: string;
  /** Lines under the title: the machine, its state, the load. */
  readonly notes: readonly string[];
  readonly categories: readonly string[];
  readonly series: readonly string[];
  readonly panels: readonly ChartPanel[];
}

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const BAR = 16;
const GROUP_GAP = 24;
const LEFT = 60;
const RIGHT = 20;
const PLOT_HEIGHT = 170;
/** Room above a plot for its title and the tallest bar's label, and below it for category names. */
const PANEL_TOP = 64;
const PANEL_BOTTOM = 36;
const LINE = 16;
const MIN_WIDTH = 960;
/** Roughly how wide a character of the 11px font is, to lay out the legend. */
const CHAR_WIDTH = 6.5;

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** 850, 12.7k, 1.25M: three significant figures at most. */
export function compactNumber(value: number): string {
  const [scaled, suffix] = value >= 1e6 ? [value / 1e6, "M"] : value >= 1e3 ? [value / 1e3, "k"] : [value, ""];
  return `${Number(scaled.toPrecision(3))}${suffix}`;
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attributes}>${escapeXml(content)}</text>`;
}

export function barChartSvg(chart: Chart): string {
  const groupWidth = chart.series.length * BAR + GROUP_GAP;
  const width = Math.max(MIN_WIDTH, LEFT + chart.categories.length * groupWidth + RIGHT);
  const key = legend(chart.series, 44 + chart.notes.length * LINE, width);
  const headerHeight = 40 + chart.notes.length * LINE + key.rows * LINE + 8;
  const panelHeight = PANEL_TOP + PLOT_HEIGHT + PANEL_BOTTOM;
  const height = headerHeight + chart.panels.length * panelHeight;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(LEFT, 24, chart.title, ` font-size="16" font-weight="bold"`),
    ...chart.notes.map((note, i) => text(LEFT, 44 + i * LINE, note, ` fill="#444444"`)),
    key.svg,
    ...chart.panels.map((panel, i) => panelSvg(chart, panel, headerHeight + i * panelHeight, groupWidth)),
    `</svg>`,
  ];
  return `${parts.join("\n")}\n`;
}

/** A colour swatch and name per series, in rows that fit `width`. */
function legend(series: readonly string[], top: number, width: number): { svg: string; rows: number } {
  let x = LEFT;
  let y = top;
  const items = series.map((label, i) => {
    const itemWidth = 28 + label.length * CHAR_WIDTH;
    if (x > LEFT && x + itemWidth > width - RIGHT) {
      x = LEFT;
      y += LINE;
    }
    const item = `<rect x="${x.toFixed(1)}" y="${y - 10}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>${text(x + 16, y, label)}`;
    x += itemWidth;
    return item;
  });
  return { svg: `<g>${items.join("")}</g>`, rows: (y - top) / LINE + 1 };
}

function panelSvg(chart: Chart, panel: ChartPanel, top: number, groupWidth: number): string {
  const finite = panel.values.flat().filter(Number.isFinite);
  const max = Math.max(0, ...finite);
  const baseline = top + PANEL_TOP + PLOT_HEIGHT;
  const heightOf = (value: number) => (max > 0 ? (value / max) * PLOT_HEIGHT : 0);
  const parts = [
    text(LEFT, top + 20, panel.title, ` font-size="13" font-weight="bold"`),
    `<line x1="${LEFT}" y1="${baseline}" x2="${LEFT + chart.categories.length * groupWidth}" y2="${baseline}" stroke="#888888"/>`,
    text(LEFT - 6, baseline, "0", ` text-anchor="end"`),
    max > 0 ? text(LEFT - 6, baseline - PLOT_HEIGHT + 4, panel.format(max), ` text-anchor="end"`) : "",
  ];
  chart.categories.forEach((category, c) => {
    const groupLeft = LEFT + c * groupWidth + GROUP_GAP / 2;
    parts.push(text(groupLeft + (chart.series.length * BAR) / 2, baseline + 16, category, ` text-anchor="middle"`));
    chart.series.forEach((_, s) => {
      const value = panel.values[s]?.[c] ?? NaN;
      if (!Number.isFinite(value)) return;
      const x = groupLeft + s * BAR;
      const barHeight = heightOf(value);
      parts.push(`<rect x="${x}" y="${(baseline - barHeight).toFixed(1)}" width="${BAR - 2}" height="${barHeight.toFixed(1)}" fill="${COLOURS[s % COLOURS.length]}"/>`);
      const labelX = x + BAR / 2 + 3;
      const labelY = baseline - barHeight - 4;
      parts.push(text(labelX, labelY, panel.format(value), ` font-size="9" transform="rotate(-90 ${labelX.toFixed(1)} ${labelY.toFixed(1)})"`));
    });
  });
  return `<g>${parts.join("")}</g>`;
}
