/**
 * One named FIFO queue: its items in memory, its journal, its limits, expiry and waiters.
 *
 * Invariants: every change to the item list is appended to the journal (when there is one) in the
 * same call, so replaying the journal rebuilds exactly this queue; `queuedBytes` is the sum of
 * the queued items' sizes; an open item is in `openItems` and not in `items` until it is
 * confirmed (gone) or aborted (back at the head); an expired item is never handed out; every
 * operation is O(1) except the explicit whole-queue ones (flush, flush_expired).
 */
import { DURABLE, type Commit } from "../journal/commit.ts";
import { isExpired, type Item } from "../journal/item.ts";
import type { JournalWriter } from "../journal/writer.ts";
import { errorText } from "../errors.ts";
import type { QueueConfig } from "../config/schema.ts";
import { log } from "../log.ts";
import { Deque } from "./deque.ts";
import { WaiterList, type WaitMode } from "./waiters.ts";

export type AddResult =
  | { readonly stored: true; readonly commit: Commit }
  | { readonly stored: false; readonly reason: "full" | "too large" | "read-only" };

export interface QueueHooks {
  /** An expired item left the head of `queue` (move_expired_to is applied here). */
  expired(queue: PersistentQueue, item: Item): void;
}

export interface QueueStats {
  readonly items: number;
  readonly bytes: number;
  readonly totalItems: number;
  readonly logsize: number;
  readonly expiredItems: number;
  readonly memItems: number;
  readonly memBytes: number;
  readonly age: number;
  readonly discarded: number;
  readonly waiters: number;
  readonly openTransactions: number;
}

export class PersistentQueue {
  private readonly items = new Deque<Item>();
  private queuedBytes = 0;
  private readonly openItems = new Map<number, Item>();
  private openBytes = 0;
  private readonly waiters = new WaiterList();
  private totalItems = 0;
  private expiredItems = 0;
  private discarded = 0;
  private lastAge = 0;
  private deleted = false;

  constructor(
    readonly name: string,
    private config: QueueConfig,
    private journal: JournalWriter | null,
    replayed: readonly Item[],
    private nextId: number,
    private readonly hooks: QueueHooks,
  ) {
    for (const item of replayed) {
      this.items.push(item);
      this.queuedBytes += item.data.length;
    }
  }

  get settings(): QueueConfig {
    return this.config;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Settles once every change made to this queue so far is in its journal (per its sync policy). */
  get commit(): Commit {
    return this.journal?.lastCommit ?? DURABLE;
  }

  reconfigure(config: QueueConfig): void {
    this.config = config;
    this.journal?.setPolicy(config.syncJournal);
  }

  /** Swaps the journal (turned on or off by a reload); a new journal starts from this queue's state. */
  replaceJournal(journal: JournalWriter | null): void {
    this.journal?.erase();
    this.journal = journal;
    this.guardRewrite(() => journal?.rewrite([...this.openItems.values()], this.items));
  }

  add(data: Uint8Array, expiry: number, now: number): AddResult {
    if (this.deleted || (this.journal !== null && this.journal.failure !== null)) return { stored: false, reason: "read-only" };
    if (data.length > this.config.maxItemSize) return { stored: false, reason: "too large" };
    this.discardExpired(now);
    if (!this.makeRoomFor(data.length)) return { stored: false, reason: "full" };
    const item: Item = { id: this.nextId++, addTime: now, expiry: this.cappedExpiry(expiry, now), data };
    const commit = this.journal === null ? DURABLE : this.journal.appendAdd(item);
    this.items.push(item);
    this.queuedBytes += data.length;
    this.totalItems++;
    this.serveWaiters(now);
    this.compactIfOverflowing();
    return { stored: true, commit };
  }

  /** Takes the head for good. */
  remove(now: number): Item | undefined {
    const item = this.takeHead(now);
    if (item === undefined) return undefined;
    this.journal?.appendRemove(item.id);
    this.rollIfDrained();
    return item;
  }

  /** Takes the head tentatively (reliable read): it comes back on `abort` or a restart. */
  open(now: number): Item | undefined {
    const item = this.takeHead(now);
    if (item === undefined) return undefined;
    this.journal?.appendOpen(item.id);
    this.openItems.set(item.id, item);
    this.openBytes += item.data.length;
    return item;
  }

  /** Confirms an open item: it is gone for good. */
  confirm(item: Item): void {
    if (!this.openItems.delete(item.id)) return;
    this.openBytes -= item.data.length;
    this.journal?.appendRemove(item.id);
    this.rollIfDrained();
  }

  /** Returns an open item to the head of the queue. */
  abort(item: Item, now: number): void {
    if (!this.openItems.delete(item.id)) return;
    this.openBytes -= item.data.length;
    this.journal?.appendAbort(item.id);
    this.items.unshift(item);
    this.queuedBytes += item.data.length;
    this.serveWaiters(now);
  }

  peek(now: number): Item | undefined {
    this.discardExpired(now);
    return this.items.peek();
  }

  /** Waits up to `timeoutMs` for an item; `deliver` gets it (already removed/opened) or null. */
  wait(mode: WaitMode, timeoutMs: number, deliver: (item: Item | null) => void): () => void {
    const waiter = this.waiters.add(mode, timeoutMs, deliver);
    return () => this.waiters.cancel(waiter);
  }

  /** Removes expired items from the head; returns how many. */
  discardExpired(now: number): number {
    let count = 0;
    for (let head = this.items.peek(); head !== undefined && isExpired(head, now); head = this.items.peek()) {
      this.items.shift();
      this.queuedBytes -= head.data.length;
      this.journal?.appendRemove(head.id);
      this.expiredItems++;
      count++;
      this.hooks.expired(this, head);
    }
    if (count > 0) this.rollIfDrained();
    return count;
  }

  /** Removes every expired item, wherever it is in the queue; returns how many. O(n). */
  flushExpired(now: number): number {
    const expired: Item[] = [];
    this.items.retain((item) => {
      if (!isExpired(item, now)) return true;
      expired.push(item);
      return false;
    });
    for (const item of expired) {
      this.queuedBytes -= item.data.length;
      this.journal?.appendRemove(item.id);
      this.expiredItems++;
      this.hooks.expired(this, item);
    }
    if (expired.length > 0) this.rollIfDrained();
    return expired.length;
  }

  /** Drops every queued item (open items stay open). */
  flush(): void {
    const flushed = [...this.items];
    this.items.clear();
    this.queuedBytes = 0;
    const journal = this.journal;
    if (journal === null) return;
    try {
      journal.rewrite([...this.openItems.values()], []);
    } catch {
      for (const item of flushed) journal.appendRemove(item.id);
    }
  }

  /** The queue is going away: waiters get nothing, the journal file is deleted. */
  destroy(): void {
    this.deleted = true;
    this.items.clear();
    this.openItems.clear();
    this.queuedBytes = this.openBytes = 0;
    this.waiters.releaseAll();
    this.journal?.erase();
    this.journal = null;
  }

  /** Stops the queue for a server shutdown: waiters get nothing, the journal is synced and closed. */
  close(): void {
    this.waiters.releaseAll();
    this.journal?.close();
  }

  stats(): QueueStats {
    return {
      items: this.items.length,
      bytes: this.queuedBytes,
      totalItems: this.totalItems,
      logsize: this.journal?.size ?? 0,
      expiredItems: this.expiredItems,
      memItems: this.items.length,
      memBytes: this.queuedBytes,
      age: this.items.length === 0 ? 0 : this.lastAge,
      discarded: this.discarded,
      waiters: this.waiters.size,
      openTransactions: this.openItems.size,
    };
  }

  private takeHead(now: number): Item | undefined {
    this.discardExpired(now);
    const item = this.items.shift();
    if (item === undefined) return undefined;
    this.queuedBytes -= item.data.length;
    this.lastAge = now - item.addTime;
    return item;
  }

  private cappedExpiry(expiry: number, now: number): number {
    const maxAge = this.config.maxAge;
    if (maxAge <= 0) return expiry;
    return expiry === 0 ? now + maxAge : Math.min(expiry, now + maxAge);
  }

  private isFullFor(size: number): boolean {
    return this.items.length >= this.config.maxItems || this.queuedBytes + size > this.config.maxSize;
  }

  /** With discard_old_when_full, drops the oldest items until `size` fits. */
  private makeRoomFor(size: number): boolean {
    if (!this.isFullFor(size)) return true;
    if (!this.config.discardOldWhenFull || size > this.config.maxSize || this.config.maxItems === 0) return false;
    while (this.isFullFor(size)) {
      const head = this.items.shift()!;
      this.queuedBytes -= head.data.length;
      this.journal?.appendRemove(head.id);
      this.discarded++;
    }
    return true;
  }

  private serveWaiters(now: number): void {
    for (let waiter = this.waiters.first(); waiter !== undefined; waiter = this.waiters.first()) {
      const item = waiter.mode === "remove" ? this.remove(now) : waiter.mode === "open" ? this.open(now) : this.peek(now);
      if (item === undefined) return;
      this.waiters.serve(waiter, item);
    }
  }

  /** A drained queue whose journal outgrew max_journal_size starts a fresh journal. */
  private rollIfDrained(): void {
    const journal = this.journal;
    if (journal === null || this.items.length > 0 || journal.size <= this.config.maxJournalSize) return;
    this.guardRewrite(() => journal.rewrite([...this.openItems.values()], []));
  }

  /** A journal far bigger than the live data is rewritten to hold just the live data. */
  private compactIfOverflowing(): void {
    const journal = this.journal;
    if (journal === null) return;
    const limit = this.config.maxJournalSize;
    if (journal.size <= limit * this.config.maxJournalOverflow || this.queuedBytes + this.openBytes >= limit) return;
    this.guardRewrite(() => journal.rewrite([...this.openItems.values()], this.items));
  }

  /** A failed rewrite leaves the old journal in place, which is still correct; it is only logged. */
  private guardRewrite(rewrite: () => void): void {
    try {
      rewrite();
    } catch (error) {
      log.error(`queue '${this.name}': journal rewrite failed, keeping the current journal: ${errorText(error)}`);
    }
  }
}
