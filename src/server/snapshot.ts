/**
 * A point-in-time view of the server's statistics, named as the memcache `stats` command names
 * them: the one source for `stats`, `dump_stats`, /stats.json and /metrics.
 */
import { monotonicMs } from "../clock.ts";
import type { ServerStatusName } from "../config/schema.ts";
import type { PersistentQueue, QueueStats } from "../queue/persistent_queue.ts";
import type { ServerContext } from "./context.ts";

/** Per-queue stats in `stats` order: the protocol's name and the field. */
export const QUEUE_STAT_NAMES: ReadonlyArray<readonly [string, keyof QueueStats]> = [
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
  ["open_transactions_timed_out", "openTransactionsTimedOut"],
];

export interface QueueSnapshot {
  readonly name: string;
  readonly stats: QueueStats;
  /** Why the queue's journal can't be written right now, or null. */
  readonly journalFailure: string | null;
}

export interface Snapshot {
  /** The server status (also in `server`, as `status`). */
  readonly status: ServerStatusName;
  /** Server stats in `stats` order: the protocol's name and the value. */
  readonly server: ReadonlyArray<readonly [string, string | number]>;
  /** Queues by name. */
  readonly queues: readonly QueueSnapshot[];
  /** Queues found on disk and not served (their journals could not be opened), with why. */
  readonly unavailable: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

export function takeSnapshot(ctx: ServerContext): Snapshot {
  const s = ctx.stats;
  const totals = ctx.queues.totals();
  const server: Array<readonly [string, string | number]> = [
    ["pid", process.pid],
    ["uptime", Math.floor((monotonicMs() - s.startedAt) / 1000)],
    ["time", Math.floor(Date.now() / 1000)],
    ["version", ctx.version],
    ["status", ctx.status.current],
    ["curr_items", totals.items],
    ["total_items", totals.totalItems],
    ["bytes", totals.bytes],
    ["open_transactions_timed_out", totals.openTransactionsTimedOut],
    ["curr_connections", s.currConnections],
    ["total_connections", s.totalConnections],
    ["accepting", s.accepting],
    ["listen_backoffs", s.listenBackoffs],
    ["cmd_get", s.cmdGet],
    ["cmd_set", s.cmdSet],
    ["cmd_peek", s.cmdPeek],
    ["get_hits", s.getHits],
    ["get_misses", s.getMisses],
    ["bytes_read", s.bytesRead],
    ["bytes_written", s.bytesWritten],
    ["memory_collections", ctx.pacer.collections],
    ["pending_request_bytes", ctx.requestBudget.bytes],
    ["request_waits", ctx.requestBudget.refusals],
  ];
  const queues = queuesByName(ctx).map((queue) => ({ name: queue.name, stats: queue.stats(), journalFailure: queue.journalFailure ?? queue.readFailure }));
  return { status: ctx.status.current, server, queues, unavailable: ctx.queues.unavailableQueues() };
}

/** Every queue, in the order reports list them (by name). */
export function queuesByName(ctx: ServerContext): PersistentQueue[] {
  return [...ctx.queues.all()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
