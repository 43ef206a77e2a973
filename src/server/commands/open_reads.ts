/**
 * One connection's open items (reliable reads it was handed and has neither confirmed nor
 * aborted), per queue, oldest first.
 *
 * Invariants: an item is listed at most once, under the queue that opened it; `returnAll` (the
 * connection closed) aborts every listed item, oldest first, as Kestrel 2 does (a waiter there
 * gets the oldest; the newest ends up at the head); an item that timed out on
 * its queue (open_transaction_timeout) is dropped from the list the next time its queue is looked
 * at (`forgetTimedOut`): the connection holds nothing there any more. A connection may hold many
 * (`max_open_transactions` 100,000: putting 300,000 back took 123-283 ms in one turn), so
 * `returnAll` aborts RETURN_SLICE of them a turn; the rest stay open meanwhile (no one else can
 * take them), and one that times out or goes with its queue meanwhile is skipped.
 */
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";

/** Open items a closed connection gives back per turn (1-3 ms of aborts). */
const RETURN_SLICE = 1000;

/** Open items of one queue still to give back, from `next` on. */
interface ReturnRun {
  readonly queue: PersistentQueue;
  readonly items: readonly Item[];
  next: number;
}

export class OpenReads {
  private readonly byQueue = new Map<PersistentQueue, Item[]>();

  /** How many items are open on `queue`. */
  count(queue: PersistentQueue): number {
    return this.byQueue.get(queue)?.length ?? 0;
  }

  add(queue: PersistentQueue, item: Item): void {
    const items = this.byQueue.get(queue);
    if (items === undefined) this.byQueue.set(queue, [item]);
    else items.push(item);
  }

  /** Removes and returns the `count` oldest open items on `queue` (fewer if it holds fewer). */
  takeOldest(queue: PersistentQueue, count: number): Item[] {
    const items = this.byQueue.get(queue);
    if (items === undefined) return [];
    const taken = items.splice(0, count);
    this.forgetIfEmpty(queue, items);
    return taken;
  }

  /** Removes and returns the oldest open item on `queue`, if any: `takeOldest(queue, 1)` without the array (a `close` in a get). */
  takeOldestOne(queue: PersistentQueue): Item | undefined {
    const items = this.byQueue.get(queue);
    if (items === undefined) return undefined;
    const oldest = items.shift();
    this.forgetIfEmpty(queue, items);
    return oldest;
  }

  private forgetIfEmpty(queue: PersistentQueue, items: readonly Item[]): void {
    if (items.length === 0) this.byQueue.delete(queue);
  }

  /** Removes `item` from `queue`'s list; false if it was not listed (a later command settled it). */
  remove(queue: PersistentQueue, item: Item): boolean {
    const items = this.byQueue.get(queue);
    const index = items?.indexOf(item) ?? -1;
    if (index === -1) return false;
    items!.splice(index, 1);
    this.forgetIfEmpty(queue, items!);
    return true;
  }

  /** Drops the items of `queue` that are open no more: they timed out and went back to the queue. */
  forgetTimedOut(queue: PersistentQueue): void {
    const items = this.byQueue.get(queue);
    // Nearly always nothing timed out: then no new list is made.
    if (items === undefined || allOpen(queue, items)) return;
    const still = items.filter((item) => queue.isOpen(item));
    if (still.length === 0) this.byQueue.delete(queue);
    else if (still.length < items.length) this.byQueue.set(queue, still);
  }

  /**
   * The connection is gone: every open item goes back to the head of its queue, aborted oldest
   * first, RETURN_SLICE a turn (the first slice now).
   */
  returnAll(now: number): void {
    const runs = [...this.byQueue].map(([queue, items]): ReturnRun => ({ queue, items, next: 0 }));
    this.byQueue.clear();
    returnSlice(runs, now);
  }
}

/** Aborts up to RETURN_SLICE items of `runs`, in order, and leaves the rest to the next turn. */
function returnSlice(runs: ReturnRun[], now: number): void {
  let left = RETURN_SLICE;
  while (runs.length > 0 && left > 0) {
    const run = runs[0]!;
    const end = Math.min(run.items.length, run.next + left);
    run.queue.abortAll(run.next === 0 && end === run.items.length ? run.items : run.items.slice(run.next, end), now);
    left -= end - run.next;
    run.next = end;
    if (end === run.items.length) runs.shift();
  }
  if (runs.length > 0) setImmediate(() => returnSlice(runs, Date.now()));
}

function allOpen(queue: PersistentQueue, items: readonly Item[]): boolean {
  for (const item of items) if (!queue.isOpen(item)) return false;
  return true;
}
