/**
 * The soak test's markdown report: the ledger per track, the faults and the refusals they caused,
 * what the server logged, and the problems (empty when every promise held).
 */
import { integer, table } from "./report.ts";
import type { LogSummary } from "./server_log.ts";
import type { TrackRow, Verdict } from "./soak_ledger.ts";

export interface SoakResult {
  readonly seconds: number;
  readonly seed: number;
  readonly epochs: number;
  /** Why the disk was not filled, when it was not. */
  readonly diskNote: string | null;
  readonly verdict: Verdict;
  readonly faults: ReadonlyMap<string, number>;
  readonly refusals: ReadonlyMap<string, number>;
  /** Lines about the faults (what the disk fills did). */
  readonly notes: readonly string[];
  readonly log: LogSummary;
  /** Problems seen while it ran (besides the ledger's). */
  readonly problems: readonly string[];
}

/** The ledger's rows: label, field, what it counts. */
const MEASURES: ReadonlyArray<readonly [string, keyof TrackRow, string]> = [
  ["acknowledged", "acked", "sets answered STORED"],
  ["refused", "refused", "sets answered NOT_STORED or SERVER_ERROR"],
  ["unanswered", "unanswered", "sets cut off by a restart (may or may not be stored)"],
  ["delivered", "delivered", "copies a VALUE carried at least once"],
  ["duplicated, allowed", "redelivered", "deliveries after the first that the protocol allows (aborted, never confirmed, close cut off)"],
  ["confirmed", "confirmed", "reliable reads whose close was answered"],
  ["consumed (plain)", "consumed", "plain gets whose reply arrived"],
  ["remaining", "remaining", "drained at the end, after a restart"],
  ["maybe consumed", "maybeConsumed", "close cut off or refused, never seen again"],
  ["excused", "excused", "missing, but a plain get cut off by a restart may have taken them"],
  ["lost", "lost", "acknowledged and unaccounted for"],
  ["came back", "cameBack", "duplicated, not allowed: served again after being consumed or confirmed"],
  ["served twice", "servedTwice", "duplicated, not allowed: served while open on another live connection"],
  ["refused yet delivered", "refusedYetDelivered", "sets refused whose item was delivered all the same"],
];

export function soakReport(result: SoakResult, problems: readonly string[]): string {
  const { verdict, log } = result;
  return [
    `# Soak: Kestrel under reloads, restarts, kill -9 and a full disk\n`,
    `${integer(result.seconds)} s, seed ${result.seed}, ${result.epochs} server lifetimes (epochs).${result.diskNote === null ? "" : ` ${result.diskNote}`}\n`,
    `## Ledger (item copies per track; a set to jobs makes one on jobs and one on jobs+audit)\n`,
    `${ledgerTable(verdict.rows)}\n`,
    `Invented (damaged, or never sent on that track): ${verdict.invented}.\n`,
    `## Faults\n`,
    `${table(["fault", "times"], [...result.faults].map(([kind, n]) => [kind, integer(n)]))}\n`,
    ...result.notes.map((note) => `${note}\n`),
    `Replies other than success: ${result.refusals.size === 0 ? "none" : [...result.refusals].map(([kind, n]) => `${kind} ${integer(n)}`).join(", ")}.\n`,
    `## Server log\n`,
    `${integer(log.errors)} ERROR and ${integer(log.warnings)} WARN lines${log.kinds.size === 0 ? "." : ", by kind:\n"}`,
    ...[...log.kinds].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([kind, n]) => `- ${integer(n)} x ${kind}`),
    ``,
    `## Problems\n`,
    problems.length === 0 ? "none" : problems.map((problem) => `- ${problem}`).join("\n"),
    ``,
  ].join("\n");
}

function ledgerTable(rows: readonly TrackRow[]): string {
  const body = MEASURES.map(([label, key, about]) => {
    const values = rows.map((row) => row[key] as number);
    return [label, ...values.map(integer), integer(values.reduce((sum, n) => sum + n, 0)), about];
  });
  return table(["", ...rows.map((row) => row.track), "total", "what it counts"], body);
}

/** Every problem of the run: the ledger's, the run's own and the crash lines in the log. */
export function allProblems(result: SoakResult): string[] {
  return [...result.verdict.problems, ...result.problems, ...result.log.crashes.map((line) => `crash or bug in the log: ${line}`)];
}
