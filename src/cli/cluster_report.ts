/**
 * What `kestrel cluster` prints: a table for people, or one JSON document for scripts.
 *
 * Table: one row per queue of each server (a server with no queues gets one row, queue `-`), then
 * a total line; a server that did not answer gets one row with status `unreachable` and `-`
 * elsewhere. Columns: SERVER, STATUS, QUEUE, ITEMS, OPEN (open_transactions: items handed out by
 * `open` and not yet confirmed), AGE_MS (how long the last item taken from the queue had waited).
 *
 * JSON (docs/operations.md#kestrel-cluster):
 *
 *   { "servers": [ { "server": "10.0.0.1:22133", "status": "up", "error": null,
 *                    "queues": { "jobs": { "items": 3, "open_transactions": 0, "age": 12, ... } } },
 *                  { "server": "10.0.0.2:22133", "status": null, "error": "could not connect: ...",
 *                    "queues": null } ],
 *     "items": 3, "open_transactions": 0, "unreachable": 1 }
 *
 * Servers in the order asked; queues by name with every figure of `dump_stats` as a number.
 * Totals count the servers that answered.
 */
import type { ServerStatus } from "../client/protocol.ts";
import type { QueueFigures } from "../client/queue_stats.ts";

export interface ServerReport {
  /** `host:port`, as the client library names servers. */
  readonly server: string;
  /** Null when `error` is set. */
  readonly status: ServerStatus | null;
  readonly queues: ReadonlyMap<string, QueueFigures> | null;
  /** Why the server could not be asked, or null. */
  readonly error: string | null;
}

const HEADER = ["SERVER", "STATUS", "QUEUE", "ITEMS", "OPEN", "AGE_MS"];
/** Columns aligned right (numbers). */
const NUMERIC = new Set([3, 4, 5]);

export function clusterTable(reports: readonly ServerReport[]): string {
  const rows = [HEADER, ...reports.flatMap(rowsOf)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (NUMERIC.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd());
  const totals = totalsOf(reports);
  const servers = `${reports.length} server${reports.length === 1 ? "" : "s"}${totals.unreachable > 0 ? `, ${totals.unreachable} unreachable` : ""}`;
  lines.push(`total: ${servers}; ${totals.items} items, ${totals.open_transactions} open`);
  return `${lines.join("\n")}\n`;
}

function rowsOf(report: ServerReport): string[][] {
  if (report.status === null || report.queues === null) return [[report.server, "unreachable", "-", "-", "-", "-"]];
  if (report.queues.size === 0) return [[report.server, report.status, "-", "0", "0", "-"]];
  return [...report.queues].map(([queue, figures]) => [report.server, report.status!, queue, figure(figures.items), figure(figures.open_transactions), figure(figures.age)]);
}

function figure(value: number | undefined): string {
  return value === undefined ? "?" : String(value);
}

export function clusterJson(reports: readonly ServerReport[]): object {
  return {
    servers: reports.map((report) => ({
      server: report.server,
      status: report.status,
      error: report.error,
      queues: report.queues === null ? null : Object.fromEntries(report.queues),
    })),
    ...totalsOf(reports),
  };
}

function totalsOf(reports: readonly ServerReport[]): { items: number; open_transactions: number; unreachable: number } {
  let items = 0;
  let open = 0;
  for (const report of reports) {
    for (const figures of report.queues?.values() ?? []) {
      items += figures.items ?? 0;
      open += figures.open_transactions ?? 0;
    }
  }
  return { items, open_transactions: open, unreachable: reports.filter((report) => report.error !== null).length };
}
