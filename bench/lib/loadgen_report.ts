/**
 * The native bench's report: markdown tables for stdout and the chart for docs/performance.svg,
 * both from the runs of every round.
 *
 * Reductions, as bench/lib/report.ts makes them for the Bun client: per (target, scenario) the run
 * shown is the round with the median items/s (the lower middle one for an even count), with the
 * min-max over rounds beside it; a ratio is taken within a round, between runs made seconds
 * apart, and reported as the median of the per-round ratios with their min-max. A run's items/s
 * is the mean of its produced and consumed rates: in a closed loop they differ only by the
 * backlog that builds up or drains during the window.
 */
import type { LoadgenResult } from "./loadgen.ts";
import { DISTURBED, formatRatio, integer, lowerMedian, percent, spread, table } from "./report.ts";
import { plainTwin, type Scenario } from "./scenarios.ts";
import { compactNumber, type Chart } from "./svg_chart.ts";

/** One run: one target, one scenario, one round. */
export interface MeasuredRun {
  /** 1-based. */
  readonly round: number;
  readonly scenario: string;
  readonly target: string;
  readonly result: LoadgenResult;
  /** Fractions of one core over the generator's whole run, from its start to its exit. */
  readonly serverCpu: number;
  readonly otherCpu: number;
  readonly problems: readonly string[];
}

/** numerator / denominator, two targets in the same scenario, or one target's scenario against its plain twin. */
export interface RatioSpec {
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly againstPlainTwin?: boolean;
}

export interface ReportInput {
  readonly title: string;
  /** The machine and the load, one line each. */
  readonly setting: readonly string[];
  readonly about: ReadonlyArray<{ readonly label: string; readonly text: string }>;
  readonly scenarios: readonly Scenario[];
  readonly rounds: number;
  readonly runs: readonly MeasuredRun[];
  readonly ratios: readonly RatioSpec[];
  /** Problems not tied to one run (server log lines, a bad exit), per target. */
  readonly targetProblems: ReadonlyMap<string, readonly string[]>;
}

export const itemsPerSecond = (result: LoadgenResult): number => (result.producedPerSecond + result.consumedPerSecond) / 2;

/** The generator's CPU over the measured window, as a fraction of one core. */
export const generatorCpu = (result: LoadgenResult): number => (result.cpuUserSeconds + result.cpuSystemSeconds) / result.wallSeconds;

const runsOf = (runs: readonly MeasuredRun[], target: string, scenario: string): MeasuredRun[] =>
  runs.filter((run) => run.target === target && run.scenario === scenario);

export const medianRun = (runs: readonly MeasuredRun[]): MeasuredRun | undefined => lowerMedian(runs, (run) => itemsPerSecond(run.result));

/** The per-round ratios of items/s for `spec` in `scenario`, over the rounds where both sides ran. */
export function roundRatios(runs: readonly MeasuredRun[], spec: RatioSpec, scenario: Scenario): number[] {
  const denominatorScenario = spec.againstPlainTwin ? plainTwin(scenario) : scenario.name;
  if (denominatorScenario === null) return [];
  const denominators = runsOf(runs, spec.denominator, denominatorScenario);
  return runsOf(runs, spec.numerator, scenario.name).flatMap((run) => {
    const other = denominators.find((candidate) => candidate.round === run.round);
    return other === undefined ? [] : [itemsPerSecond(run.result) / itemsPerSecond(other.result)];
  });
}

/** "quiet" or "busy", from how much of a core the rest of the machine used in the median run. */
export function machineState(runs: readonly MeasuredRun[]): string {
  const other = spread(runs.map((run) => run.otherCpu));
  if (!Number.isFinite(other.median)) return "Machine state unknown (no run)";
  const state = other.median >= DISTURBED ? "busy" : "quiet";
  return `Machine ${state}: other processes used ${percent(other.median)} of a core in the median run (${percent(other.min)}-${percent(other.max)})`;
}

export function report(input: ReportInput): string {
  return [
    `# ${input.title}\n`,
    `${[...input.setting, `${machineState(input.runs)}.`].join("\n")}\n`,
    `## How to read this\n`,
    `${howToRead(input)}\n`,
    `## Items per second, median round${input.rounds > 1 ? " (min-max over rounds)" : ""}\n`,
    `${itemsTable(input)}\n`,
    `## Ratios of items per second within a round, median${input.rounds > 1 ? " (min-max)" : ""}\n`,
    `${ratioTable(input)}\n`,
    `## Latency in microseconds, median round\n`,
    `${latencyTable(input)}\n`,
    `## Rates, misses and CPU, median round\n`,
    `${cpuTable(input)}\n`,
    `## Problems\n`,
    problemList(input),
  ].join("\n");
}

/** The chart of docs/performance.svg: items/s, p99 put latency and p99 take latency per scenario and target. */
export function chart(input: ReportInput): Chart {
  const targets = input.about.map(({ label }) => label);
  const shown = (pick: (result: LoadgenResult) => number) =>
    targets.map((target) => input.scenarios.map((scenario) => {
      const run = medianRun(runsOf(input.runs, target, scenario.name));
      return run === undefined ? NaN : pick(run.result);
    }));
  const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
  return {
    title: input.title,
    notes: [...input.setting, machineState(input.runs)],
    categories: input.scenarios.map((scenario) => scenario.name),
    series: targets,
    panels: [
      { title: "Items per second (mean of produced and consumed), median round", format: compactNumber, values: shown(itemsPerSecond) },
      { title: "p99 put latency, ms (write to acknowledgement)", format: ms, values: shown((result) => result.put.p99) },
      { title: "p99 take latency, ms (write to item received; misses not timed)", format: ms, values: shown((result) => result.take.p99) },
    ],
  };
}

function howToRead(input: ReportInput): string {
  const targets = input.about.map(({ label, text }) => `**${label}**: ${text}`).join("; ");
  const rounds =
    input.rounds > 1
      ? `The targets all run at once and idle when not measured; in each of ${input.rounds} rounds every scenario runs on every target back to back, the target order rotating from round to round. ` +
        `Figures are from each target's median round by items/s; a ratio is taken within each round and the median of the per-round ratios is shown.`
      : `The targets all run at once and idle when not measured; with one round each figure and ratio comes from a single run.`;
  return (
    `Targets: ${targets}. ${rounds} Items/s is the mean of the produced and consumed rates over the measured window. ` +
    `A "-" is a scenario the target does not run (reliable reads are Kestrel's). The load generator is a C program using epoll (bench/loadgen/loadgen.c) on the same cores as the servers; its own CPU is shown per run.`
  );
}

function itemsTable(input: ReportInput): string {
  const targets = input.about.map(({ label }) => label);
  const rows = input.scenarios.map((scenario) => [
    scenario.name,
    ...targets.map((target) => {
      const rates = runsOf(input.runs, target, scenario.name).map((run) => itemsPerSecond(run.result));
      const range = spread(rates);
      if (rates.length === 0) return "-";
      return input.rounds > 1 ? `${integer(lowerMedian(rates, (rate) => rate)!)} (${integer(range.min)}-${integer(range.max)})` : integer(rates[0]!);
    }),
  ]);
  return table(["scenario", ...targets], rows);
}

function ratioTable(input: ReportInput): string {
  const rows = input.scenarios.map((scenario) => [
    scenario.name,
    ...input.ratios.map((spec) => formatRatio(spread(roundRatios(input.runs, spec, scenario)), input.rounds)),
  ]);
  return table(["scenario", ...input.ratios.map((spec) => spec.label)], rows);
}

/** The median run of every (scenario, target) that ran, in table order. */
function shownRuns(input: ReportInput): MeasuredRun[] {
  return input.scenarios.flatMap((scenario) =>
    input.about.flatMap(({ label }) => {
      const run = medianRun(runsOf(input.runs, label, scenario.name));
      return run === undefined ? [] : [run];
    }),
  );
}

function latencyTable(input: ReportInput): string {
  const us = (value: number, count: number) => (count === 0 ? "-" : integer(value));
  const rows = shownRuns(input).map(({ scenario, target, result: { put, take } }) => [
    scenario,
    target,
    ...[put.p50, put.p99, put.p999, put.max].map((value) => us(value, put.count)),
    ...[take.p50, take.p99, take.p999, take.max].map((value) => us(value, take.count)),
  ]);
  const header = ["scenario", "target", "put p50", "put p99", "put p99.9", "put max", "take p50", "take p99", "take p99.9", "take max"];
  return table(header, rows);
}

function cpuTable(input: ReportInput): string {
  const rows = shownRuns(input).map((run) => [
    run.scenario,
    run.target,
    integer(run.result.producedPerSecond),
    integer(run.result.consumedPerSecond),
    integer(run.result.misses),
    percent(generatorCpu(run.result)),
    percent(run.serverCpu),
    percent(run.otherCpu),
    String(run.round),
  ]);
  const header = ["scenario", "target", "produced/s", "consumed/s", "misses", "generator CPU", "server CPU", "other CPU", "round shown"];
  const note =
    `CPU is a percentage of one core: the generator's over the measured window (from its getrusage), the server's and the rest of the machine's over the generator's whole run. ` +
    `A generator near 100% may be the bottleneck of its row; run with BENCH_THREADS=2 to check.`;
  return `${table(header, rows)}\n\n${note}`;
}

function problemList(input: ReportInput): string {
  const lines = input.runs.flatMap((run) => run.problems.map((problem) => `- ${run.target}, ${run.scenario}, round ${run.round}: ${problem}`));
  for (const [target, problems] of input.targetProblems) lines.push(...problems.map((problem) => `- ${target}: ${problem}`));
  return lines.length === 0 ? "None: every reply was as expected, every item well formed, and every item acknowledged by a queue was consumed once." : lines.join("\n");
}
