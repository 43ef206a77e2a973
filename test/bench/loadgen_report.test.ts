import { expect, test } from "bun:test";
import type { LoadgenResult } from "../../bench/lib/loadgen.ts";
import { chart, itemsPerSecond, machineState, medianRun, report, roundRatios, type MeasuredRun, type ReportInput } from "../../bench/lib/loadgen_report.ts";
import { parseScenario } from "../../bench/lib/scenarios.ts";

const latency = (p99: number) => ({ count: 100, p50: p99 / 4, p99, p999: p99 * 2, max: p99 * 3 });

function result(produced: number, consumed: number, p99 = 800): LoadgenResult {
  return {
    wallSeconds: 2,
    cpuUserSeconds: 0.2,
    cpuSystemSeconds: 0.6,
    produced: produced * 2,
    consumed: consumed * 2,
    misses: 0,
    producedPerSecond: produced,
    consumedPerSecond: consumed,
    put: latency(p99),
    take: latency(p99 + 100),
    totalAcknowledged: produced * 3,
    totalUnacknowledged: 0,
    totalConsumed: produced * 3,
    drained: true,
    lost: 0,
    failedConnections: 0,
    errors: 0,
    errorSamples: [],
  };
}

function run(round: number, target: string, scenario: string, rate: number, otherCpu = 0.05): MeasuredRun {
  return { round, target, scenario, result: result(rate, rate), serverCpu: 0.9, otherCpu, problems: [] };
}

test("items/s is the mean of the produced and consumed rates", () => {
  expect(itemsPerSecond(result(12_000, 10_000))).toBe(11_000);
});

test("ratios pair runs of the same round, not medians of each side", () => {
  // Round 2 is slow for both: per-round ratios stay 0.5, while a ratio of medians would be 0.4.
  const runs = [run(1, "a", "10+10", 50), run(1, "b", "10+10", 100), run(2, "a", "10+10", 10), run(2, "b", "10+10", 20), run(3, "a", "10+10", 40), run(3, "b", "10+10", 80)];
  expect(roundRatios(runs, { label: "a / b", numerator: "a", denominator: "b" }, parseScenario("10+10"))).toEqual([0.5, 0.5, 0.5]);
});

test("a round where one side did not run gives no ratio", () => {
  const runs = [run(1, "a", "10+10", 50), run(2, "a", "10+10", 60), run(2, "b", "10+10", 120)];
  expect(roundRatios(runs, { label: "a / b", numerator: "a", denominator: "b" }, parseScenario("10+10"))).toEqual([0.5]);
});

test("a reliable scenario is compared with its plain twin on the same target, round by round", () => {
  const runs = [run(1, "k", "10+10", 100), run(1, "k", "10+10/reliable", 90), run(2, "k", "10+10", 200), run(2, "k", "10+10/reliable", 170)];
  const spec = { label: "reliable / plain", numerator: "k", denominator: "k", againstPlainTwin: true };
  expect(roundRatios(runs, spec, parseScenario("10+10/reliable"))).toEqual([0.9, 0.85]);
  expect(roundRatios(runs, spec, parseScenario("10+10"))).toEqual([]);
});

test("the run shown is the median round by items/s, the lower middle one for an even count", () => {
  expect(medianRun([run(1, "a", "s", 30), run(2, "a", "s", 10), run(3, "a", "s", 20)])?.round).toBe(3);
  expect(medianRun([run(1, "a", "s", 30), run(2, "a", "s", 10)])?.round).toBe(2);
  expect(medianRun([])).toBeUndefined();
});

test("the machine is called busy when the rest of it used a quarter of a core or more in the median run", () => {
  expect(machineState([run(1, "a", "s", 1, 0.02), run(1, "b", "s", 1, 0.9), run(1, "c", "s", 1, 0.05)])).toBe("Machine quiet: other processes used 5% of a core in the median run (2%-90%)");
  expect(machineState([run(1, "a", "s", 1, 1.2)])).toStartWith("Machine busy: other processes used 120% of a core");
});

function input(): ReportInput {
  const runs = [
    run(1, "kestrel", "10+10", 30_000),
    run(1, "memcached", "10+10", 50_000),
    run(2, "kestrel", "10+10", 36_000),
    run(2, "memcached", "10+10", 40_000),
    run(1, "kestrel", "10+10/reliable", 27_000),
    run(2, "kestrel", "10+10/reliable", 32_400),
  ];
  return {
    title: "Test run",
    setting: ["Machine: test box, 2 cores."],
    about: [
      { label: "kestrel", text: "this server" },
      { label: "memcached", text: "a cache" },
    ],
    scenarios: [parseScenario("10+10"), parseScenario("10+10/reliable")],
    rounds: 2,
    runs,
    ratios: [
      { label: "kestrel / memcached", numerator: "kestrel", denominator: "memcached" },
      { label: "kestrel reliable / plain", numerator: "kestrel", denominator: "kestrel", againstPlainTwin: true },
    ],
    targetProblems: new Map([["memcached", ["server log: something odd"]]]),
  };
}

test("the report shows medians with ranges, per-round ratios, latencies, CPU and problems", () => {
  const text = report(input());
  expect(text).toContain("| 10+10 | 30,000 (30,000-36,000) | 40,000 (40,000-50,000) |");
  expect(text).toContain("| 10+10/reliable | 27,000 (27,000-32,400) | - |");
  expect(text).toContain("| 10+10 | 0.75 (0.60-0.90) | - |");
  expect(text).toContain("| 10+10/reliable | - | 0.90 (0.90-0.90) |");
  expect(text).toContain("| 10+10 | kestrel | 200 | 800 | 1,600 | 2,400 | 225 | 900 | 1,800 | 2,700 |");
  expect(text).toContain("| 10+10 | kestrel | 30,000 | 30,000 | 0 | 40% | 90% | 5% | 1 |");
  expect(text).toContain("Machine quiet");
  expect(text).toContain("- memcached: server log: something odd");
});

test("the chart has a bar per target and scenario that ran, from the median round", () => {
  const drawn = chart(input());
  expect(drawn.categories).toEqual(["10+10", "10+10/reliable"]);
  expect(drawn.series).toEqual(["kestrel", "memcached"]);
  expect(drawn.panels[0]!.values).toEqual([
    [30_000, 27_000],
    [40_000, NaN],
  ]);
  expect(drawn.panels[1]!.values[0]).toEqual([800, 800]);
  expect(drawn.panels[2]!.values[0]).toEqual([900, 900]);
  expect(drawn.notes).toContain("Machine: test box, 2 cores.");
});
