/**
 * One connection's open items (reliable reads it was handed and has neither confirmed nor
 * aborted), per queue, oldest first.
 *
 * Invariants: an item is listed at most once, under the queue that opened it; `returnAll` (the
 * connection closed) aborts every listed item, oldest first, as Kestrel 2 does (a waiter there
 * gets the oldest; the newest ends up at the head); an item that timed out on
 * its queue (open_transaction_timeout) is dropped from the list the next time its queue is looked
 * at (`forgetTimedOut`): the connection holds nothing there any more. `returnAll` hands the
 * items to a put-back lane (put_back_lane.ts), which bounds the aborts of a turn over every
 * connection closing.
 *
 * An item's reply carries its `handedOver` mark after the item's bytes: its queue's
 * open_transaction_timeout starts only once the reply reached the socket, so an item can't time
 * out (and be opened by another client) while a reply still on its way carries it.
 */
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import { Handover } from "../outbox.ts";
import { putBacks, type PutBackLane } from "./put_back_lane.ts";

/** A handover with nothing to give back: an opened item is the connection's, returned when it closes. */
const KEPT_OPEN = (): void => {};

/**
 * The mark a reply places after an item `queue` opened for it: once the reply reached the socket
 * the item's open_transaction_timeout starts (PersistentQueue.delivered).
 */
export function handedOver(queue: PersistentQueue, item: Item): Handover {
  return new Handover(KEPT_OPEN, () => queue.delivered(item));
}

export class OpenReads {
  private readonly byQueue = new Map<PersistentQueue, Item[]>();

  /** `lane`: where a closed connection's items go back (tests give their own). */
  constructor(private readonly lane: PutBackLane = putBacks) {}

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
   * first, through the put-back lane (as much of it now as the turn has left).
   */
  returnAll(now: number): void {
    for (const [queue, items] of this.byQueue) this.lane.giveBack(queue, items, now);
    this.byQueue.clear();
  }
}

function allOpen(queue: PersistentQueue, items: readonly Item[]): boolean {
  for (const item of items) if (!queue.isOpen(item)) return false;
  return true;
}
