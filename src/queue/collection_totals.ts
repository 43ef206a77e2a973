/**
 * The server-wide figures of `stats` that cover every queue (curr_items, bytes, total_items,
 * open_transactions_timed_out, queue_creates, ...): the collection's own counters plus a sum over
 * its queues. At 100,000 queues the sum is too long for one turn, so reports add the queues up a
 * slice at a time as they go through them (TotalsSum), not in one go.
 *
 * Invariants: a sum starts from the collection's counters as they are when it is made, and is
 * meant to be given every queue of the name order taken in the same turn, once each. A queue
 * deleted since then still adds its counters (total_items, open_transactions_timed_out: a
 * deleted queue keeps them), which the counters the sum started from do not hold, but not its
 * items and bytes, which are gone. So a counter is never counted twice or missed, and never goes
 * back from one report to the next.
 */
import type { PersistentQueue, QueueStats } from "./persistent_queue.ts";

export interface CollectionTotals {
  readonly items: number;
  readonly bytes: number;
  readonly totalItems: number;
  readonly openTransactionsTimedOut: number;
  /** Queues created (on first use, or loaded at start), deleted (expired ones too), expired by max_queue_age. */
  readonly queueCreates: number;
  /** New queues refused because max_queues were served. */
  readonly queueCreatesRefused: number;
  readonly queueDeletes: number;
  readonly queueExpires: number;
}

/** What the collection counts itself: the totals of the queues it deleted, and its queue counters. */
export type CollectionCounters = Omit<CollectionTotals, "items" | "bytes">;

export class TotalsSum {
  private items = 0;
  private bytes = 0;
  private totalItems: number;
  private openTransactionsTimedOut: number;

  constructor(private readonly counters: CollectionCounters) {
    this.totalItems = counters.totalItems;
    this.openTransactionsTimedOut = counters.openTransactionsTimedOut;
  }

  /** Adds `queue`, whose figures are `stats` (read now if not given). */
  add(queue: PersistentQueue, stats: QueueStats = queue.stats()): void {
    this.totalItems += stats.totalItems;
    this.openTransactionsTimedOut += stats.openTransactionsTimedOut;
    if (queue.isDeleted) return;
    this.items += stats.items;
    this.bytes += stats.bytes;
  }

  get totals(): CollectionTotals {
    return { ...this.counters, items: this.items, bytes: this.bytes, totalItems: this.totalItems, openTransactionsTimedOut: this.openTransactionsTimedOut };
  }
}
