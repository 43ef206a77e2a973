/**
 * The text of `stats`, `dump_stats` and `dump_config`.
 */
import { queueConfigFor } from "../config/load.ts";
import { QUEUE_KEYS, showValue } from "../config/schema.ts";
import type { QueueStats } from "../queue/persistent_queue.ts";
import type { ServerContext } from "./context.ts";

const QUEUE_STAT_NAMES: ReadonlyArray<[string, keyof QueueStats]> = [
  ["items", "items"],
  ["bytes", "bytes"],
  ["total_items", "totalItems"],
  ["logsize", "logsize"],
  ["expired_items", "expiredItems"],
  ["mem_items", "memItems"],
  ["mem_bytes", "memBytes"],
  ["age", "age"],
  ["discarded", "discarded"],
  ["waiters", "waiters"],
  ["open_transactions", "openTransactions"],
];

function sortedQueues(ctx: ServerContext) {
  return [...ctx.queues.all()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function statsReport(ctx: ServerContext): string {
  const s = ctx.stats;
  const now = Date.now();
  const totals = ctx.queues.totals();
  const lines: Array<[string, string | number]> = [
    ["pid", process.pid],
    ["uptime", Math.floor((now - s.startedAt) / 1000)],
    ["time", Math.floor(now / 1000)],
    ["version", ctx.version],
    ["curr_items", totals.items],
    ["total_items", totals.totalItems],
    ["bytes", totals.bytes],
    ["curr_connections", s.currConnections],
    ["total_connections", s.totalConnections],
    ["cmd_get", s.cmdGet],
    ["cmd_set", s.cmdSet],
    ["cmd_peek", s.cmdPeek],
    ["get_hits", s.getHits],
    ["get_misses", s.getMisses],
    ["bytes_read", s.bytesRead],
    ["bytes_written", s.bytesWritten],
  ];
  for (const queue of sortedQueues(ctx)) {
    const stats = queue.stats();
    for (const [name, field] of QUEUE_STAT_NAMES) lines.push([`queue_${queue.name}_${name}`, stats[field]]);
  }
  return lines.map(([name, value]) => `STAT ${name} ${value}\r\n`).join("") + "END\r\n";
}

export function dumpStatsReport(ctx: ServerContext): string {
  return (
    sortedQueues(ctx)
      .map((queue) => {
        const stats = queue.stats();
        const body = QUEUE_STAT_NAMES.map(([name, field]) => `  ${name}=${stats[field]}\r\n`).join("");
        return `queue '${queue.name}' {\r\n${body}}\r\n`;
      })
      .join("") + "END\r\n"
  );
}

export function dumpConfigReport(ctx: ServerContext): string {
  const config = ctx.config();
  return (
    sortedQueues(ctx)
      .map((queue) => {
        const settings = queueConfigFor(config, queue.name);
        const body = QUEUE_KEYS.map((spec) => `  ${spec.key}=${showValue(settings[spec.field])}\r\n`).join("");
        return `queue '${queue.name}' {\r\n${body}}\r\n`;
      })
      .join("") + "END\r\n"
  );
}
