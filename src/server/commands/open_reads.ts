/**
 * One connection's open items (reliable reads it was handed and has neither confirmed nor
 * aborted), per queue, oldest first.
 *
 * Invariants: an item is listed at most once, under the queue that opened it; `returnAll` (the
 * connection closed) aborts every listed item, oldest first, as Kestrel 2 does (a waiter there
 * gets the oldest; the newest ends up at the head); an item that timed out on
 * its queue (open_transaction_timeout) is dropped from the list the next time its queue is looked
 * at (`forgetTimedOut`): the connection holds nothing there any more.
 */
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";

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
    if (items.length === 0) this.byQueue.delete(queue);
    return taken;
  }

  /** Removes `item` from `queue`'s list; false if it was not listed (a later command settled it). */
  remove(queue: PersistentQueue, item: Item): boolean {
    const items = this.byQueue.get(queue);
    const index = items?.indexOf(item) ?? -1;
    if (index === -1) return false;
    items!.splice(index, 1);
    if (items!.length === 0) this.byQueue.delete(queue);
    return true;
  }

  /** Drops the items of `queue` that are open no more: they timed out and went back to the queue. */
  forgetTimedOut(queue: PersistentQueue): void {
    const items = this.byQueue.get(queue);
    if (items === undefined) return;
    const still = items.filter((item) => queue.isOpen(item));
    if (still.length === 0) this.byQueue.delete(queue);
    else if (still.length < items.length) this.byQueue.set(queue, still);
  }

  /** The connection is gone: every open item goes back to the head of its queue, aborted oldest first. */
  returnAll(now: number): void {
    for (const [queue, items] of this.byQueue) queue.abortAll(items, now);
    this.byQueue.clear();
  }
}
