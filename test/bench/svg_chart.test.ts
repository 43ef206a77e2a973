import { expect, test } from "bun:test";
import { barChartSvg, compactNumber, escapeXml, type Chart } from "../../bench/lib/svg_chart.ts";

/**
 * Checks that `xml` is well formed as far as this chart's SVG goes: elements nest and close,
 * attribute values are quoted, text has no raw `<`, and `&` only starts an entity. Returns the
 * first fault, or null.
 */
function xmlFault(xml: string): string | null {
  const open: string[] = [];
  const token = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let rootClosed = false;
  for (let match = token.exec(xml); match !== null; match = token.exec(xml)) {
    const [whole, closing, name, , selfClosing, textContent, stray] = match;
    if (stray !== undefined) return `a "<" that starts no tag at ${match.index}: ${xml.slice(match.index, match.index + 40)}`;
    if (textContent !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(textContent)) return `a bare & in text: ${textContent}`;
      if (open.length === 0 && textContent.trim() !== "") return `text outside the root: ${textContent}`;
      continue;
    }
    if (rootClosed) return `an element after the root: ${whole}`;
    if (closing === "/") {
      if (open.pop() !== name) return `</${name}> closes something else`;
      rootClosed = open.length === 0;
    } else if (selfClosing !== "/") {
      open.push(name!);
    } else if (open.length === 0) {
      return `a root that closes at once: ${whole}`;
    }
  }
  return open.length > 0 ? `unclosed: ${open.join(", ")}` : rootClosed ? null : "no root element";
}

test("the well-formedness check catches the faults it is for", () => {
  expect(xmlFault('<svg><g><rect x="1"/></g></svg>')).toBeNull();
  expect(xmlFault("<svg><g></svg>")).not.toBeNull();
  expect(xmlFault("<svg><text>a < b</text></svg>")).not.toBeNull();
  expect(xmlFault("<svg><text>a & b</text></svg>")).not.toBeNull();
  expect(xmlFault("<svg><rect x=1/></svg>")).not.toBeNull();
  expect(xmlFault("<svg></svg><svg></svg>")).not.toBeNull();
});

const CHART: Chart = {
  title: "Queues <&> \"friends\"",
  notes: ["Machine: test box, 2 cores.", "Machine busy: other processes used 120% of a core"],
  categories: ["10+10", "50+50/reliable"],
  series: ["kestrel", "redis everysec", "bun floor"],
  panels: [
    {
      title: "Items per second",
      format: compactNumber,
      values: [
        [12_700, 40_000],
        [15_300, NaN],
        [21_000, 39_000],
      ],
    },
    { title: "p99 put latency, ms", format: (us) => (us / 1000).toFixed(2), values: [[640, 2200], [510, NaN], [300, 900]] },
  ],
};

test("the chart is well-formed SVG with its title, notes, legend and every value", () => {
  const svg = barChartSvg(CHART);
  expect(xmlFault(svg)).toBeNull();
  expect(svg).toStartWith('<svg xmlns="http://www.w3.org/2000/svg"');
  expect(svg).toContain(escapeXml(CHART.title));
  for (const note of CHART.notes) expect(svg).toContain(`>${note}</text>`);
  for (const label of [...CHART.series, ...CHART.categories]) expect(svg).toContain(`>${label}</text>`);
  for (const label of ["12.7k", "40k", "15.3k", "21k", "39k", "0.64", "2.20", "0.51", "0.30", "0.90"]) expect(svg).toContain(`>${label}</text>`);
});

test("a missing value draws no bar; bars are linear from zero to the panel's largest value", () => {
  const svg = barChartSvg(CHART);
  const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="14" height="([\d.]+)" fill="(#\w+)"\/>/g)];
  expect(bars.length).toBe(10); // 2 panels x 3 series x 2 categories, less the two NaN
  // The first panel's bars, category by category: 12.7k, 15.3k, 21k, then 40k, 39k.
  const heights = bars.slice(0, 5).map((bar) => Number(bar[1]));
  expect(heights.map((height) => height / heights[3]!)).toEqual([12_700, 15_300, 21_000, 40_000, 39_000].map((value) => expect.closeTo(value / 40_000, 2)));
});

test("values are shortened to three significant figures", () => {
  expect([850, 12_700, 12_745, 999_999, 1_254_000].map(compactNumber)).toEqual(["850", "12.7k", "12.7k", "1000k", "1.25M"]);
});
