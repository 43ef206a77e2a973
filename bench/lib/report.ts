/**
 * The benchmark's markdown report: what each run measured, reduced over rounds.
 *
 * For each (target, scenario) the run shown is the round with the median total ops/s (with an
 * even number of rounds, the lower of the two middle ones), with the min-max over all rounds
 * beside it. A ratio between two targets is computed within each round, where both ran seconds
 * apart, and reported as the median of those per-round ratios with their min-max: the machine's
 * speed drifts over minutes, and this cancels most of the drift.
 */
import { cpus, release, tmpdir } from "node:os";
import { readFileSync } from "node:fs";
import type { Settings } from "./settings.ts";

/** One measured run: one target, one scenario, one round. */
export interface RunResult {
  /** 1-based. */
  readonly round: number;
  readonly connections: number;
  readonly seconds: number;
  readonly sets: number;
  readonly gets: number;
  readonly hits: number;
  readonly setMs: readonly number[]; // p50, p99, max
  readonly getMs: readonly number[];
  /** Fractions of one core over the measured window. */
  readonly serverCpu: number;
  readonly benchCpu: number;
  /** Everything else on the machine (other processes, interrupts), from /proc/stat. */
  readonly otherCpu: number;
  readonly problems: ReadonlyMap<string, number>;
  readonly notes: readonly string[];
}

export interface TargetResults {
  readonly label: string;
  /** runs[scenario index][round - 1] */
  readonly runs: RunResult[][];
  /** Problems not tied to one run (server log lines, a bad exit). */
  readonly problems: string[];
}

/** [numerator, denominator] target labels of a ratio column. */
export type RatioPair = readonly [string, string];

export interface ReportInput {
  readonly settings: Settings;
  readonly results: readonly TargetResults[];
  readonly ratios: readonly RatioPair[];
  /** What each target is, for "How to read this", in table order. */
  readonly about: ReadonlyArray<{ readonly label: string; readonly text: string }>;
}

export function report(input: ReportInput): string {
  const { settings, results } = input;
  return [
    `# Throughput: Kestrel vs a Bun floor and memcached\n`,
    `${machineInfo(settings)}\n`,
    `## How to read this\n`,
    `${howToRead(input)}\n`,
    `## Total ops/s (sets + gets), median round\n`,
    `${summaryTable(settings, results, input.ratios)}\n`,
    `## Details (median round of each target and scenario)\n`,
    `${detailTable(settings, results)}\n`,
    `${cpuNote(settings, results)}\n`,
    `## Problems\n`,
    problemList(settings, results),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Reductions over rounds

export const totalRate = (run: RunResult | undefined): number => (run === undefined ? NaN : (run.sets + run.gets) / run.seconds);

/** The targets in the order they run in `round` (1-based): rotated by one each round, so that none always goes first. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const shift = (round - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** The value with the median `key` (the lower middle one for an even count); undefined when there is none. */
export function lowerMedian<T>(values: readonly T[], key: (value: T) => number): T | undefined {
  const sorted = [...values].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The run with the median total ops/s. */
const medianRun = (runs: readonly RunResult[]): RunResult | undefined => lowerMedian(runs, totalRate);

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN };
  const middle = (sorted.length - 1) / 2;
  const median = (sorted[Math.floor(middle)]! + sorted[Math.ceil(middle)]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Per-round ratios of total ops/s, numerator / denominator, for one scenario. */
function roundRatios(numerator: readonly RunResult[], denominator: readonly RunResult[]): number[] {
  return numerator.map((run) => totalRate(run) / totalRate(denominator.find((other) => other.round === run.round)));
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const MiB = 1048576;
export const integer = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-");
/** A fraction (of a core, of the gets) as a whole percentage. */
export const percent = (fraction: number): string => (Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : "-");
export const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / MiB).toFixed(1)} MiB` : "-");
/** Milliseconds as seconds: `1.25 s`. */
export const secs = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : "-");
const ms = (value: number | undefined): string => (value === undefined || Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(3) : value.toFixed(1));
const scenarioName = (n: number | undefined): string => `${n}+${n}`;

/** `0.71 (0.66-0.74)`; just the value when there is one round. */
export function formatRatio(ratio: Spread, rounds: number): string {
  if (!Number.isFinite(ratio.median)) return "-";
  return rounds > 1 ? `${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}-${ratio.max.toFixed(2)})` : ratio.median.toFixed(2);
}

export function table(header: readonly string[], rows: readonly string[][]): string {
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Sections

function summaryTable(settings: Settings, results: readonly TargetResults[], ratios: readonly RatioPair[]): string {
  const byLabel = new Map(results.map((r) => [r.label, r]));
  const header = ["connections (set+get)", ...results.map((r) => `${r.label} ops/s`), ...ratios.map(([a, b]) => `${a} / ${b}`)];
  const rows = settings.scenarios.map((n, i) => [
    scenarioName(n),
    ...results.map((r) => integer(totalRate(medianRun(r.runs[i] ?? [])))),
    ...ratios.map(([a, b]) => formatRatio(spread(roundRatios(byLabel.get(a)?.runs[i] ?? [], byLabel.get(b)?.runs[i] ?? [])), settings.rounds)),
  ]);
  return table(header, rows);
}

function detailTable(settings: Settings, results: readonly TargetResults[]): string {
  const header = [
    "scenario",
    "target",
    "set ops/s",
    "get ops/s",
    "get hit rate",
    "total ops/s",
    "total ops/s, all rounds (min-max)",
    "round shown",
    "set p50 ms",
    "set p99 ms",
    "get p50 ms",
    "get p99 ms",
    "max ms set / get",
    "server CPU",
    "bench CPU",
    "other CPU",
  ];
  const rows: string[][] = [];
  settings.scenarios.forEach((n, i) => {
    for (const target of results) {
      const runs = target.runs[i] ?? [];
      const r = medianRun(runs);
      if (r !== undefined) rows.push(detailRow(n, target.label, r, spread(runs.map(totalRate))));
    }
  });
  return table(header, rows);
}

function detailRow(n: number, label: string, r: RunResult, totals: Spread): string[] {
  return [
    scenarioName(n),
    label,
    integer(r.sets / r.seconds),
    integer(r.gets / r.seconds),
    percent(r.hits / r.gets),
    integer(totalRate(r)),
    `${integer(totals.min)}-${integer(totals.max)}`,
    String(r.round),
    ms(r.setMs[0]),
    ms(r.setMs[1]),
    ms(r.getMs[0]),
    ms(r.getMs[1]),
    `${ms(r.setMs[2])} / ${ms(r.getMs[2])}`,
    percent(r.serverCpu),
    percent(r.benchCpu),
    percent(r.otherCpu),
  ];
}

/** A run where the rest of the machine used this much of a core shared the CPUs with something else. */
export const DISTURBED = 0.25;

function cpuNote(settings: Settings, results: readonly TargetResults[]): string {
  const shown = (pick: (r: RunResult) => boolean): string[] =>
    results.flatMap((target) =>
      settings.scenarios.flatMap((n, i) => {
        const r = medianRun(target.runs[i] ?? []);
        return r !== undefined && pick(r) ? [`${target.label} ${scenarioName(n)}`] : [];
      }),
    );
  const notes = [
    `CPU is a percentage of one core over the measured window; "other CPU" is the rest of the machine's busy time in that window (other processes, interrupts).`,
  ];
  const saturated = shown((r) => r.benchCpu >= 0.9);
  if (saturated.length > 0) {
    notes.push(`The load generator used 90% or more of a core in: ${saturated.join(", ")}. In those rows it may be the bottleneck, so the server's real ceiling is higher.`);
  }
  const allRuns = results.flatMap((target) => target.runs.flat());
  const disturbed = allRuns.filter((r) => r.otherCpu >= DISTURBED).length;
  if (disturbed > 0) {
    const rows = shown((r) => r.otherCpu >= DISTURBED);
    notes.push(
      `In ${disturbed} of ${allRuns.length} runs something else used ${percent(DISTURBED)} or more of a core: those runs competed for the CPUs and their numbers are low` +
        `${rows.length > 0 ? ` (rows above: ${rows.join(", ")})` : ""}; a ratio from such a round is unreliable.`,
    );
  }
  return notes.join(" ");
}

function problemList(settings: Settings, results: readonly TargetResults[]): string {
  const lines: string[] = [];
  for (const target of results) {
    settings.scenarios.forEach((n, i) => {
      for (const r of target.runs[i] ?? []) {
        for (const [problem, count] of r.problems) {
          lines.push(`- ${target.label}, ${scenarioName(n)}, round ${r.round}: ${problem}${count > 1 ? ` (x${count})` : ""}`);
        }
      }
    });
    for (const problem of target.problems) lines.push(`- ${target.label}: ${problem}`);
  }
  return lines.length === 0 ? "None: every reply was well-formed and the server counters match the clients in every run." : lines.join("\n");
}

function howToRead(input: ReportInput): string {
  const { settings } = input;
  const targets = input.about.map(({ label, text }) => `**${label}**: ${text}`).join("; ");
  const rounds =
    settings.rounds > 1
      ? `All targets run at once and idle when not measured. The benchmark runs in ${settings.rounds} rounds; in each round every scenario is run on every target back to back, ` +
        `and the target order rotates from round to round. The ops/s and the detail rows are from each target's median round (by total ops/s), with the min-max over all rounds in the details. ` +
        `A ratio is computed within each round and scenario (the two runs are seconds apart, so the machine's drift over minutes mostly cancels); ` +
        `the table shows the median of the per-round ratios, with their min-max in parentheses.`
      : `All targets run at once and idle when not measured; with one round, each ratio comes from a single pair of runs seconds apart.`;
  const sharing =
    `The load generator is one Bun process on the same ${cpus().length} cores as the server under test, so the two compete for CPU: ` +
    `a faster server also makes the load generator busier (see the CPU columns).`;
  return `Targets: ${targets}. ${rounds} ${sharing}`;
}

/** The CPU's model name, from /proc/cpuinfo. */
function cpuModel(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "latin1");
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown CPU";
}

/** `<CPU model>, <n> cores, Linux <release>, bun <version>`: the machine a report's figures come from. */
export function machine(): string {
  return `${cpuModel()}, ${cpus().length} cores, Linux ${release()}, bun ${Bun.version}`;
}

function machineInfo(settings: Settings): string {
  const memcached = Bun.spawnSync(["memcached", "-V"]).stdout.toString().trim();
  return [
    `Machine: ${machine()}, ${memcached}.`,
    `Load: ${settings.itemSize}-byte items, ${settings.warmupMs / 1000} s warm-up + ${settings.seconds} s measured per run, ` +
      `${settings.rounds} round${settings.rounds === 1 ? "" : "s"}, closed loop over loopback TCP, one load-generator process; data dirs under ${tmpdir()}.`,
  ].join("\n");
}
