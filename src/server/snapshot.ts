/**
 * A point-in-time view of the server's statistics, named as the memcache `stats` command names
 * them: the one source for `stats`, `dump_stats`, /stats.json and /metrics.
 */
import { monotonicMs } from "../clock.ts";
import type { ServerStatusName } from "../config/schema.ts";
import { syncfsCount } from "../journal/grouped_fsync.ts";
import type { AliasStats } from "../queue/aliases.ts";
import { heldBytes, liveBytes } from "../queue/byte_homes.ts";
import type { CollectionTotals } from "../queue/collection_totals.ts";
import type { PersistentQueue, QueueStats } from "../queue/persistent_queue.ts";
import { SlicedRound } from "../queue/sliced_round.ts";
import type { ServerContext } from "./context.ts";
import { residentBytes } from "./resident_memory.ts";

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
  ["transactions", "transactions"],
  ["canceled_transactions", "canceledTransactions"],
  ["total_flushes", "totalFlushes"],
  ["journal_rewrites", "journalRewrites"],
  ["journal_rotations", "journalRotations"],
];

export interface QueueSnapshot {
  readonly name: string;
  readonly stats: QueueStats;
  /** Its live fanout children (`<name>+<child>`), by name. */
  readonly children: readonly string[];
  /** Why the queue's journal can't be written right now, or null. */
  readonly journalFailure: string | null;
}

/** One queue's or alias's figures, as `stats` (`queue_<name>_<stat>`) and `dump_stats` list them. */
export interface StatsBlock {
  readonly name: string;
  readonly entries: ReadonlyArray<readonly [string, string | number]>;
}

/**
 * A queue's block of `stats` and `dump_stats`, as Kestrel 2 lists it (MemcacheHandler,
 * QueueCollection.stats): its figures, then `children`, its fanout children comma-separated, if it
 * has any.
 */
export function queueBlock(queue: QueueSnapshot): StatsBlock {
  const entries: Array<readonly [string, string | number]> = QUEUE_STAT_NAMES.map(([name, field]) => [name, queue.stats[field]]);
  return { name: queue.name, entries: withChildren(entries, queue.children) };
}

/**
 * The aliases' blocks of `stats` and `dump_stats`: `put_items`, `put_bytes` and `children`, its
 * destinations (left out when it has none, as an empty value would be an odd `STAT` line).
 */
export function aliasBlocks(aliases: readonly AliasStats[]): StatsBlock[] {
  return aliases.map((alias) => ({ name: alias.name, entries: withChildren([["put_items", alias.putItems], ["put_bytes", alias.putBytes]], alias.destinations) }));
}

function withChildren(entries: Array<readonly [string, string | number]>, children: readonly string[]): Array<readonly [string, string | number]> {
  if (children.length > 0) entries.push(["children", children.join(",")]);
  return entries;
}

export interface Snapshot {
  /** The server status (also in `server`, as `status`). */
  readonly status: ServerStatusName;
  /** Server stats in `stats` order: the protocol's name and the value. */
  readonly server: ReadonlyArray<readonly [string, string | number]>;
  /** Queues, by name. */
  readonly queues: readonly QueueSnapshot[];
  /** Aliases by name. */
  readonly aliases: readonly AliasStats[];
  /** Queues found on disk and not served (their journals could not be opened), with why. */
  readonly unavailable: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

/**
 * A snapshot of every queue's stats, gathered over turns by a SlicedRound, for the admin port's
 * once-a-second sample, /stats.json and /metrics (a whole snapshot of 15,000 queues is 16-20 ms). `done` gets the snapshot, or the
 * first error a queue's figures threw. Its queues are by name (as the replies list them); a
 * queue deleted before its slice is left out (its counters still count in the server's totals,
 * summed in the same round); each queue's figures are read when its slice runs.
 * Returns how to stop it early.
 */
export function takeSnapshotInTurns(ctx: ServerContext, done: (result: Snapshot | Error) => void, sliceMs?: number): () => void {
  const queues: QueueSnapshot[] = [];
  const order = ctx.queues.byName();
  const totals = ctx.queues.totalsSum();
  let failure: Error | null = null;
  const round = new SlicedRound<PersistentQueue>(
    (queue) => {
      if (queue.isDeleted) return void totals.add(queue);
      const snapshot = queueSnapshot(ctx, queue, Date.now());
      totals.add(queue, snapshot.stats);
      queues.push(snapshot);
    },
    (error) => (failure ??= asError(error)),
    sliceMs,
  );
  round.start(order, () => {
    let result: Snapshot | Error;
    try {
      result = failure ?? { status: ctx.status.current, server: serverStats(ctx, totals.totals), queues, aliases: ctx.queues.aliasStats(), unavailable: ctx.queues.unavailableQueues() };
    } catch (error) {
      result = asError(error);
    }
    done(result);
  });
  return () => round.stop();
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** One queue's figures as of `now` (unix ms). */
export function queueSnapshot(ctx: ServerContext, queue: PersistentQueue, now: number): QueueSnapshot {
  return { name: queue.name, stats: queue.stats(now), children: ctx.queues.childrenOf(queue.name), journalFailure: queue.journalFailure ?? queue.readFailure };
}

/** Server stats in `stats` order: the protocol's name and the value; `totals` summed over the queues (TotalsSum). */
export function serverStats(ctx: ServerContext, totals: CollectionTotals): Array<readonly [string, string | number]> {
  const s = ctx.stats;
  return [
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
    ["queue_creates", totals.queueCreates],
    ["queue_creates_refused", totals.queueCreatesRefused],
    ["queue_deletes", totals.queueDeletes],
    ["queue_expires", totals.queueExpires],
    ["journal_syncfs", syncfsCount()],
    ["memory_collections", ctx.pacer.collections],
    ["memory_collections_skipped", ctx.pacer.quietCollectionsSkipped],
    ["resident_bytes", residentBytes()],
    ["item_buffer_bytes", heldBytes()],
    ["item_live_bytes", liveBytes()],
    ["pending_request_bytes", ctx.requestBudget.bytes],
    ["request_waits", ctx.requestBudget.refusals],
  ];
}
