/**
 * A queue's open items (reliable reads handed out, neither confirmed nor aborted yet) and their
 * timeout (`open_transaction_timeout`): an item open longer than that goes back to the queue.
 * Its time counts from when the reply carrying it reached the socket (`start`, called by the
 * server once the reply's bytes were handed to the kernel), not from `add`: an item whose reply
 * is still on its way (a get of many keys served over turns or waiting on a later key, a reply
 * waiting for a journal write, a client not reading) can't time out, or it would go back and be
 * opened by another client while the first one's reply still carries it: handed out twice.
 *
 * Invariants:
 * - An open item is the very object `open` handed out, not just its id. One that timed out goes
 *   back to the queue as a new object, so whoever still holds the old one (a pooled client whose
 *   `/close` comes on another connection) can neither confirm nor abort it, nor the same item
 *   opened again by someone else.
 * - `order` is opening order and holds every open entry, started or not; `timing` holds the
 *   started ones in the order they were started. Every started item is measured against the one
 *   timeout in force, so the head of `timing` is the first due: one deadline per queue (on a
 *   shared DeadlineTimer), never one per item, and finding the due items costs O(1) per item
 *   found. An item not started is in no deadline's reach.
 * - Each of `order` and `timing` holds closed entries only until its head passes them or they
 *   outnumber the open ones (then it is rebuilt): at most twice the open entries, plus a few.
 * - An open item's entry hangs on the item object itself (a symbol-keyed property, checked to be
 *   this set's and still open), not in a Map: an item is opened and closed for every reliable
 *   read, and a Map churned that way kept every closed entry, and its item and bytes, reachable
 *   for the young-generation collections, which moved them all to the old generation: a full
 *   collection (a pause of 5-10 ms) every few hundred ms under reliable reads. A WeakMap moved
 *   nothing, but every collection walks its entries: 200,000 open items made each young
 *   collection 14 ms (0.3 ms this way).
 * - Items that time out together go back newest first, so they reach the head in the order they
 *   were started (their replies went out); at most RELEASE_SLICE per event-loop turn, the rest a
 *   millisecond later (they stay open, and confirmable, until then), so thousands of them cost
 *   no long turn.
 * - Times are on the timer's monotonic clock: a wall clock set back or forward moves no timeout.
 * - Each open entry holds one count on the home of its item's bytes (byte_homes.ts), for their
 *   length, given back when it leaves the set; the set is listed for slab evacuation while it
 *   holds open items, so an open small item doesn't hold the 64 KiB slab the rest of whose items
 *   left: `relocate` swaps its `data` for an equal copy in a survivor slab, the item object
 *   staying the same (its holder can still close or abort it). A reply given the old bytes still
 *   sends them: they are never written, and their buffer lives as long as the reply names it.
 * - `seq` grows along `order` (entries are only pushed; dropping keeps the order), so an
 *   evacuation step finds where it stopped by a binary search.
 */
import type { Item } from "../journal/item.ts";
import { log } from "../log.ts";
import { RepeatedLog } from "../repeated_log.ts";
import { holdHome, isSparse, releaseHome } from "./byte_homes.ts";
import { DeadlineTimer, type Deadline } from "./deadline_timer.ts";
import { Deque } from "./deque.ts";
import type { BlockPlace } from "./item_blocks.ts";
import { listEmptied, listFilled, type MoveOut, type Relocatable } from "./slab_evacuation.ts";

/** Items one turn puts back. */
export const RELEASE_SLICE = 1000;

/** One deadline per queue with open items, for every queue. */
const sharedTimer = new DeadlineTimer();
/** Closed entries `order` may keep beyond as many as the open ones. */
export const CLOSED_SLACK = 32;
/** One line per queue while its open items keep timing out, not one per item. */
const timeoutLog = new RepeatedLog(log.info);

/** `startedAt` of an entry whose reply has not reached the socket yet. */
const NOT_STARTED = -1;

/** Where an open item keeps its entry. */
const ENTRY = Symbol("open entry");
type Marked = Item & { [ENTRY]?: OpenEntry };
/** An open item as its entry may change it: its bytes for an equal copy elsewhere (see the invariants). */
type Movable = { data: Uint8Array };

interface OpenEntry {
  readonly owner: OpenItems;
  readonly item: Item;
  /** When its timeout started (`start`), on the timer's clock; NOT_STARTED until then. */
  startedAt: number;
  /** Its place in opening order, growing along `order`. */
  readonly seq: number;
  /** The home its bytes hold a count on (byte_homes.ts). */
  home: number;
  open: boolean;
}

export class OpenItems implements Relocatable {
  /** Open entries in opening order, and closed ones not yet dropped (see the invariants). */
  /** Made on the first open: most queues of a server with thousands never have one. */
  private order: Deque<OpenEntry> | null = null;
  /** Started entries in the order they were started, and closed ones not yet dropped (see the invariants). */
  private timing: Deque<OpenEntry> | null = null;
  private count = 0;
  private openBytes = 0;
  private nextSeq = 0;
  /** Its index in slab evacuation's lists, or -1 while nothing is open. */
  listed = -1;
  private timeoutMs: number;
  private deadline: Deadline | null = null;
  /** Items found due together, oldest first, still to be put back (from the end). */
  private due: Item[] = [];

  /**
   * The queue's `timedOut` puts an item that timed out back in the queue (it has left this set
   * already; the object it gets is a copy, the one to queue).
   */
  constructor(
    private readonly queueName: string,
    timeoutMs: number,
    private readonly queue: { timedOut(item: Item): void },
    private readonly timer: DeadlineTimer = sharedTimer,
  ) {
    this.timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.openBytes;
  }

  /** Entries held, open or closed, in `order` and in `timing`: each at most twice the open ones plus CLOSED_SLACK (for tests). */
  get entriesHeld(): { readonly order: number; readonly timing: number } {
    return { order: this.order?.length ?? 0, timing: this.timing?.length ?? 0 };
  }

  /** `item` is open from now on; its timeout starts with `start`. */
  add(item: Item): void {
    const entry: OpenEntry = { owner: this, item, startedAt: NOT_STARTED, seq: this.nextSeq++, home: holdHome(item.data), open: true };
    (item as Marked)[ENTRY] = entry;
    (this.order ??= new Deque()).push(entry);
    if (this.count++ === 0) listFilled(this);
    this.openBytes += item.data.length;
  }

  /**
   * The reply carrying `item` reached the socket: its timeout starts now. Nothing if it is not
   * open here (settled since it was opened) or started already.
   */
  start(item: Item): void {
    const entry = this.entryOf(item);
    if (entry === undefined || entry.startedAt !== NOT_STARTED) return;
    entry.startedAt = this.timer.now();
    (this.timing ??= new Deque()).push(entry);
    this.arm();
  }

  /** Whether `item` (the object handed out) is still open. */
  holds(item: Item): boolean {
    return this.entryOf(item) !== undefined;
  }

  /** Takes `item` out if it is still open; false if it is not (settled already, or timed out). */
  take(item: Item): boolean {
    const entry = this.entryOf(item);
    if (entry === undefined) return false;
    (item as Marked)[ENTRY] = undefined;
    entry.open = false;
    releaseHome(entry.home, item.data.length);
    if (--this.count === 0) listEmptied(this);
    this.openBytes -= item.data.length;
    this.dropClosed();
    return true;
  }

  /** A new timeout (0: none) applies to every item open now, measured from when it was started. */
  setTimeout(timeoutMs: number): void {
    if (timeoutMs === this.timeoutMs) return;
    this.timeoutMs = timeoutMs;
    this.stop();
    this.arm();
  }

  /** The open items, oldest first. */
  items(): Item[] {
    return Array.from(this.openEntries(), (entry) => entry.item);
  }

  ids(): IterableIterator<number> {
    return Array.from(this.openEntries(), (entry) => entry.item.id).values();
  }

  /** Forgets every open item (the queue is going away). */
  clear(): void {
    this.stop();
    for (const entry of this.openEntries()) {
      entry.open = false;
      releaseHome(entry.home, entry.item.data.length);
    }
    if (this.count > 0) listEmptied(this);
    this.order = null;
    this.timing = null;
    this.count = 0;
    this.openBytes = 0;
  }

  /** See Relocatable (slab_evacuation.ts): a place is an entry, found again by its `seq`. */
  relocate(from: BlockPlace | null, moveOut: MoveOut, enough: (looked: number) => boolean): BlockPlace | null {
    const order = this.order;
    if (order === null) return null;
    let at = from === null ? 0 : this.indexOfSeq((from as OpenEntry).seq);
    let looked = 0;
    while (at < order.length) {
      const entry = order.at(at++)!;
      if (entry.open && isSparse(entry.home)) moveEntry(entry, moveOut);
      if (enough(++looked)) break;
    }
    return order.at(at) ?? null;
  }

  /** Cancels the deadline (the queue is closing); `start` or `setTimeout` arms it again. */
  stop(): void {
    if (this.deadline !== null) this.timer.cancel(this.deadline);
    this.deadline = null;
    this.due = [];
  }

  /** Arms the deadline for the next slice of due items, or for the longest-started item. */
  private arm(): void {
    if (this.deadline !== null || this.timeoutMs <= 0) return;
    const fire = () => this.release();
    if (this.due.length > 0) {
      this.deadline = this.timer.add(1, fire);
      return;
    }
    const oldest = this.timing?.peek(); // open: dropClosed leaves no closed entry at the head
    if (oldest === undefined) return;
    this.deadline = this.timer.add(Math.max(0, oldest.startedAt + this.timeoutMs - this.timer.now()), fire);
  }

  private release(): void {
    this.deadline = null;
    if (this.due.length === 0) this.due = this.dueNow();
    let released = 0;
    for (let count = 0; count < RELEASE_SLICE && this.due.length > 0; count++) {
      const item = this.due.pop()!;
      if (!this.take(item)) continue; // confirmed or aborted since it was found due
      this.queue.timedOut({ ...item });
      released++;
    }
    if (released > 0) {
      const message = `queue '${this.queueName}': ${released} open item(s) not closed or aborted within ${this.timeoutMs} ms went back to the head`;
      timeoutLog.note(this.queueName, message);
    }
    this.arm();
  }

  /** The entry of `item` if it is open here (a copy of an item carries the original's entry: not its own). */
  private entryOf(item: Item): OpenEntry | undefined {
    const entry = (item as Marked)[ENTRY];
    return entry !== undefined && entry.open && entry.owner === this && entry.item === item ? entry : undefined;
  }

  /** Drops closed entries from the heads of `order` and `timing`, and rebuilds either once its closed ones outnumber the open. */
  private dropClosed(): void {
    this.dropClosedFrom(this.order!);
    if (this.timing !== null) this.dropClosedFrom(this.timing);
  }

  private dropClosedFrom(entries: Deque<OpenEntry>): void {
    while (entries.peek()?.open === false) entries.shift();
    if (entries.length > 2 * this.count + CLOSED_SLACK) entries.retain((entry) => entry.open);
  }

  /** The index in `order` of the first entry whose seq is `seq` or more (`order.length` if none). */
  private indexOfSeq(seq: number): number {
    const order = this.order!;
    let low = 0;
    let high = order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order.at(middle)!.seq < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private *openEntries(): IterableIterator<OpenEntry> {
    for (const entry of this.order ?? []) if (entry.open) yield entry;
  }

  /** Every item started at least the timeout ago, longest-started first. */
  private dueNow(): Item[] {
    const startedBy = this.timer.now() - this.timeoutMs;
    const due: Item[] = [];
    for (const entry of this.timing ?? []) {
      if (!entry.open) continue;
      if (entry.startedAt > startedBy) break;
      due.push(entry.item);
    }
    return due;
  }
}

/** Gives `entry`'s item the bytes `moveOut` has for it, if any, moving its count with them (the new home held first). */
function moveEntry(entry: OpenEntry, moveOut: MoveOut): void {
  const data = entry.item.data;
  const bytes = moveOut(entry.home, data.byteOffset, data.length);
  if (bytes === null) return;
  const home = holdHome(bytes);
  releaseHome(entry.home, data.length);
  entry.home = home;
  (entry.item as Movable).data = bytes;
}
