/**
 * One periodic expiry sweep over every queue (expiration_timer_frequency), spread over event-loop
 * turns (SlicedRound): the expired items at each queue's head, at most `max_expire_sweep` of them
 * per queue per round, then the queue itself, which `expireQueue` deletes if max_queue_age says
 * so. Kestrel 2 does the same two steps per period (Kestrel.scala: flushAllExpired, then
 * deleteExpiredQueues; PersistentQueue.discardExpired's limit is maxExpireSweep).
 *
 * Invariants: one round at a time; within a round no queue loses more than its max_expire_sweep
 * items to the sweep; a queue's slice removes at most SWEEP_SLICE_ITEMS before the round checks
 * the time.
 */
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import type { PersistentQueue } from "./persistent_queue.ts";
import { SlicedRound } from "./sliced_round.ts";

/** Expired items the sweep removes from one queue before it checks the time. */
const SWEEP_SLICE_ITEMS = 1000;

export class ExpiryRound {
  private readonly round = new SlicedRound<PersistentQueue>(
    (queue) => this.sweep(queue),
    (error, queue) => log.error(`queue '${queue.name}': expiry sweep failed: ${errorText(error)}`),
  );
  /** The queue being swept and how many items the sweep has removed from it this round. */
  private current: { readonly queue: PersistentQueue; swept: number } | null = null;

  constructor(private readonly expireQueue: (queue: PersistentQueue) => void) {}

  get running(): boolean {
    return this.round.running;
  }

  /** Starts a round over `queues` unless one still runs (then false). */
  start(queues: Iterable<PersistentQueue>): boolean {
    if (this.running) return false;
    this.current = null;
    return this.round.start(queues);
  }

  stop(): void {
    this.round.stop();
  }

  /** One slice of `queue`'s share of the round; false while it has more expired items to remove. */
  private sweep(queue: PersistentQueue): boolean {
    if (queue.isDeleted) return true;
    if (this.current?.queue !== queue) this.current = { queue, swept: 0 };
    const budget = queue.settings.maxExpireSweep - this.current.swept;
    const limit = Math.min(SWEEP_SLICE_ITEMS, budget);
    const removed = limit > 0 ? queue.sweepExpired(Date.now(), limit) : 0;
    this.current.swept += removed;
    if (removed > 0 && removed === limit && removed < budget) return false;
    this.expireQueue(queue);
    return true;
  }
}
