/**
 * The attack benchmark's markdown report: one row per attack (RSS before, peak, after, the
 * ceiling and the verdict, responsiveness, correctness), the ceilings' formulas, the other bounds
 * each attack checked, notes, and problems.
 *
 * An attack PASSes when its peak RSS is within its ceiling; the other bounds carry their own
 * verdicts, and "-" where a figure is reported rather than judged. A 5 ms ping gap over
 * STALL_MS, a new client not served within RESPONSIVE_MS, and a wrong reply afterwards are
 * findings too.
 */
import { tmpdir } from "node:os";
import { STALL_MS } from "./attack_bounds.ts";
import type { AttackResult } from "./attack_lab.ts";
import { describePing, describeProbe } from "./probe_run.ts";
import { machine, mib, table } from "./report.ts";

export interface AttackReport {
  readonly quick: boolean;
  readonly results: readonly AttackResult[];
  /** Attacks that could not be run to the end, with why. */
  readonly failures: readonly string[];
  readonly seconds: number;
}

const verdict = (pass: boolean | null): string => (pass === null ? "-" : pass ? "PASS" : "**FAIL**");
export const withinCeiling = (r: AttackResult): boolean => r.peak <= r.ceiling.bytes;
/** The 5 ms ping saw a gap over STALL_MS, failed, or could not report. */
const stalled = (r: AttackResult): boolean => r.probe.ping === null || r.probe.ping.failure !== null || !(r.probe.ping.worstGapMs <= STALL_MS);

/** Everything that went wrong: ceilings exceeded, bounds failed, unresponsive, incorrect, problems. */
export function findings(report: AttackReport): string[] {
  return report.results.flatMap((r) => [
    ...(withinCeiling(r) ? [] : [`${r.name}: peak RSS ${mib(r.peak)} over the ceiling ${mib(r.ceiling.bytes)} (${r.ceiling.formula})`]),
    ...r.bounds.filter((b) => b.pass === false).map((b) => `${r.name}: ${b.measure} ${b.value}, bound ${b.bound}`),
    ...(r.probe.unanswered > 0 || r.probe.probes === 0 ? [`${r.name}: new clients not served: ${describeProbe(r.probe)}`] : []),
    ...(stalled(r) ? [`${r.name}: a stall: the 5 ms ping's worst gap ${describePing(r.probe)}, bound ${STALL_MS} ms`] : []),
    ...r.incorrect.map((text) => `${r.name}: incorrect after the attack: ${text}`),
    ...r.problems.map((text) => `${r.name}: ${text}`),
  ]).concat(report.failures);
}

export function attackReport(report: AttackReport): string {
  const problems = findings(report);
  return [
    `# Memory bounds under attack\n`,
    `${machineLine(report)}\n`,
    `${mainTable(report.results)}\n`,
    `Each attack's server first serves 3 s of ordinary traffic (sets, gets, reliable reads, timed-out gets; its queues then deleted) and settles: a fresh server's RSS grows about 15 MiB once as its code gets hot, whoever sends the traffic. ` +
      `RSS before is read then; peak RSS is the server's VmHWM, reset when the attack starts; "after" is the RSS once the attack is over and 3 s have passed. ` +
      `Worst ping gap: \`get ping_nothing\` every 5 ms on one connection opened before the attack, one in flight, from a process of its own; a gap runs from when a ping was due to its reply (bound: ${STALL_MS} ms). ` +
      `New clients: a \`version\` on a fresh connection every 100 ms during the attack, each answered within 1 s.\n`,
    `## Ceilings\n`,
    report.results.map((r) => `- ${r.name}: ${mib(r.ceiling.bytes)} = ${r.ceiling.formula}`).join("\n") + "\n",
    `## Other bounds\n`,
    `${boundsTable(report.results)}\n`,
    `## Notes\n`,
    (report.results.flatMap((r) => r.notes.map((note) => `- ${r.name}: ${note}`)).join("\n") || "None.") + "\n",
    `## Findings\n`,
    problems.length === 0 ? `None: every attack stayed within its ceiling and bounds, no ping waited over ${STALL_MS} ms, new clients were served and every reply afterwards was right.` : problems.map((p) => `- ${p}`).join("\n"),
  ].join("\n");
}

function machineLine(report: AttackReport): string {
  return (
    `Machine: ${machine()}; server src/main.ts on loopback, data dirs under ${tmpdir()}. ` +
    `${report.quick ? "Quick mode (ATTACK_QUICK=1). " : ""}Run took ${Math.round(report.seconds)} s.`
  );
}

function mainTable(results: readonly AttackResult[]): string {
  const header = ["attack", "parameters", "RSS before", "peak RSS (VmHWM)", "RSS after", "ceiling", "memory", "worst ping gap", "new clients served", "correct after"];
  const rows = results.map((r) => [
    r.name,
    r.parameters,
    mib(r.before),
    `${mib(r.peak)}${r.peakFrom === "VmHWM" ? "" : " (sampled)"}`,
    mib(r.after),
    mib(r.ceiling.bytes),
    verdict(withinCeiling(r)),
    describePing(r.probe),
    describeProbe(r.probe),
    r.incorrect.length === 0 ? "yes" : `NO: ${r.incorrect.join("; ")}`,
  ]);
  return table(header, rows);
}

function boundsTable(results: readonly AttackResult[]): string {
  const rows = results.flatMap((r) => r.bounds.map((b) => [r.name, b.measure, b.value, b.bound, verdict(b.pass)]));
  return table(["attack", "measure", "value", "bound", "verdict"], rows);
}
