/**
 * Where a queue's items are: the head in memory, the rest only in the journal (read-behind).
 *
 * While the items in memory stay within the budget (max_memory_size), new items are kept in
 * memory; each counts its bytes and its overhead (`memoryCost`), so a queue of empty items reads
 * behind too. Past it, they are only written to the journal and counted in the disk region; as the
 * head drains below half the budget, items are read back from the journal in order, a batch of
 * up to the free budget (at most READ_BACK_SLICE, 1 MiB, and at least one item) at a time, so no
 * read-back is a long turn even after a reload raised the budget by a GiB. Reading back costs
 * mostly first writes to fresh memory (~3.5 ms per MiB on a VM): a 4 MiB slice of 1 MiB items
 * was a 25-35 ms turn (issue 9). The order is always: memory items, then the disk region.
 *
 * `readInPart` reads disk items back whatever the budget, a part at a time: a reload turning the
 * journal off needs every item in memory before the files go (journal_switch.ts). `runItems`
 * reads the run (below) by id, for a journal a reload turned on (journal_fill.ts).
 *
 * While the journal is being rebuilt over turns (Journal.rebuildInTurns) nothing is read back: its
 * copy reads the disk region from the files it replaces, and the queue relocates the region once
 * it is in place (`relocateDisk`).
 *
 * `readBackSome` reads disk items back early, offering each to a `drop` callback first (for
 * flush_expired): the dropped ones never enter memory, and since it reads in order from the head
 * of the disk region, the removals it leads to are recorded in the order a normal read-back would
 * make them, so replay reads back no more than the server did.
 *
 * Invariants: disk items are all after the memory items in queue order, their ADD records start
 * at `disk.start`, and every ADD record from there on belongs to the disk region; `memBytes` is
 * the sum of the memory items' sizes. Without a journal there is no disk region. The memory
 * items are a front of items put back at the head (aborted, given back; any ids) followed by
 * items in ascending id order, and `frontMins[i]` is the smallest id among the innermost i + 1
 * front items (null while there is no front, as in most queues), so the smallest id in memory
 * is known in O(1).
 */
import type { Position } from "../journal/add_reader.ts";
import { ownedBytes, slabbedBytes } from "../journal/byte_slab.ts";
import { ITEM_MEMORY_OVERHEAD, hasExpired, memoryCost, type Item } from "../journal/item.ts";
import type { Journal } from "../journal/journal.ts";
import type { DiskRegion } from "../journal/replay_state.ts";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { ItemBlocks, type BlockPlace } from "./item_blocks.ts";

/** Most item bytes one read-back reads (the rest comes with the next takes): ~3.5 ms of fresh memory on a VM. */
const READ_BACK_SLICE = 1024 * 1024;
/** Items waiting in memory from which a new small item is copied into a slab (see `owned`). */
const SLAB_FROM_ITEMS = 64;
/** The most a `readBackSome` reads (items it drops pass through memory too). */
const EARLY_READ_SLICE_BYTES = 1024 * 1024;

export class ItemStore {
  private readonly memory = new ItemBlocks();
  private memBytes = 0;
  /** Prefix minima of the ids of the front (see the invariants): one per front item, the head's last; null for none. */
  private frontMins: number[] | null = null;
  /** Why the last read-back failed, or null: items wait on disk that can't be served now. */
  readFailure: string | null = null;

  /**
   * Takes `items` (replayed, in queue order): they move into the store and the array is left
   * empty. JavaScriptCore scans the native stack conservatively, and a stale word left there by
   * the replay that happens to point at this array would otherwise keep every replayed item
   * object alive (1.3M of them for 128 MiB of 100-byte items), for as long as it stays there: each
   * full collection then traces them all, and the first one, right after start, stopped the
   * server for 90-500 ms in about one start in three.
   */
  constructor(
    private journal: Journal | null,
    private budget: number,
    items: Item[],
    private disk: DiskRegion | null,
    private readonly queueName: string,
  ) {
    // Replayed items have bytes of their own already (replay copies them out of the file buffer).
    for (const item of items) {
      this.memory.push(item);
      this.memBytes += item.data.length;
    }
    this.frontMins = frontMinimaOf(items);
    items.length = 0;
  }

  get count(): number {
    return this.memory.length + (this.disk?.count ?? 0);
  }

  get bytes(): number {
    return this.memBytes + (this.disk?.bytes ?? 0);
  }

  get memoryCount(): number {
    return this.memory.length;
  }

  get memoryBytes(): number {
    return this.memBytes;
  }

  /** What the items in memory count toward the budget: their bytes and each one's overhead (`memoryCost`). */
  get memoryUsed(): number {
    return this.memBytes + this.memory.length * ITEM_MEMORY_OVERHEAD;
  }

  /** The smallest id of an item only in the journal, or Infinity. */
  get diskMinId(): number {
    return this.disk?.minId ?? Infinity;
  }

  /** Where read-behind reads next, or null when every item is in memory. */
  get readFrom(): Position | null {
    return this.disk?.start ?? null;
  }

  setBudget(budget: number): void {
    this.budget = budget;
  }

  /**
   * Reads up to `maxBytes` of the items waiting on disk into memory (at least one), whatever the
   * budget: a reload is turning the journal off, and every item must be in memory before its
   * files go (journal_switch.ts). Returns whether items still wait on disk. A read that fails
   * leaves them there, in order, and sets `readFailure`, as a read-back for a take does.
   */
  readInPart(maxBytes: number): boolean {
    if (this.disk !== null) this.readBackSafely(maxBytes);
    return this.disk !== null;
  }

  /**
   * Switches to another journal (a reload turned it on or off). Turning it off, every item must
   * be in memory first (`readInPart`); a new one starts empty, and gets the items in memory
   * written to it over turns (journal_fill.ts).
   */
  setJournal(journal: Journal | null): void {
    this.journal = journal;
  }

  /** Where the items waiting on disk are (a copy), or null. */
  get diskRegion(): DiskRegion | null {
    return this.disk === null ? null : { ...this.disk };
  }

  /** After a rebuild: the items waiting on disk are now at `region` (or there are none). */
  relocateDisk(region: DiskRegion | null): void {
    this.disk = region === null ? null : { ...region };
    this.readFailure = null;
  }

  /**
   * Adds an item at the tail; call it just before the item's ADD record is appended to the journal.
   * While the journal is being rebuilt over turns (with no item waiting on disk: the queue refuses
   * sets otherwise), it stays in memory whatever the budget: its record waits for the new active
   * file, where no position is known yet (the queue refuses sets that would take it past the
   * budget then: PersistentQueue.setRefusal).
   */
  push(item: Item): void {
    if (this.journal !== null && !this.journal.rebuilding && (this.disk !== null || this.memoryUsed + memoryCost(item) > this.budget)) {
      this.disk ??= { start: this.journal.nextPosition(), count: 0, bytes: 0, minId: item.id };
      this.disk.count++;
      this.disk.bytes += item.data.length;
      return;
    }
    this.pushToMemory(item);
  }

  /** Puts an item back at the head (an aborted reliable read; it was in memory already). */
  unshift(item: Item): void {
    this.memory.unshift(item);
    this.memBytes += item.data.length;
    const front = (this.frontMins ??= []);
    front.push(Math.min(item.id, front.at(-1) ?? Infinity));
  }

  /**
   * Item bytes taking the head would move, found without reading anything: the head's size; 0
   * when the queue is empty; Infinity when the take reads from the journal (the head waits on
   * disk, or the memory left after it is low enough to start a read-back).
   */
  takeCost(): number {
    const head = this.memory.peek();
    if (head === undefined) return this.disk === null ? 0 : Infinity;
    if (this.readsBackBelow(this.memoryUsed - memoryCost(head))) return Infinity;
    return head.data.length;
  }

  /** Items wait on disk and `used` (as `memoryUsed` counts it) is low enough to read some back. */
  private readsBackBelow(used: number): boolean {
    return this.disk !== null && used < this.budget / 2;
  }

  peek(): Item | undefined {
    if (this.memory.length === 0) this.readBackSafely();
    return this.memory.peek();
  }

  /** The head's expiry (as `peek` finds the head), without making the head an object. */
  headExpiry(): number | undefined {
    if (this.memory.length === 0) this.readBackSafely();
    return this.memory.headExpiry();
  }

  shift(): Item | undefined {
    if (this.memory.length === 0) this.readBackSafely();
    const item = this.memory.shift();
    if (item === undefined) return undefined;
    this.memBytes -= item.data.length;
    if (this.frontMins !== null) this.dropFrontHead(this.frontMins);
    if (this.readsBackBelow(this.memoryUsed)) this.readBackSafely();
    return item;
  }

  /**
   * Reads one slice of the items waiting on disk back, if memory has room and `room()` says so,
   * handing each to `drop` first: the ones it takes (returns true for; it records their removal,
   * and must not throw) leave the queue, the rest go into memory, in order. Returns whether there
   * may be more to read: false once nothing waits on disk, memory or `room()` is full, or a read
   * failed (`readFailure` says why) or read nothing.
   */
  readBackSome(room: () => boolean, drop: (item: Item) => boolean): boolean {
    if (this.disk === null || this.memoryUsed >= this.budget || !room()) return false;
    const waiting = this.disk.count;
    this.readBackSafely(Math.min(EARLY_READ_SLICE_BYTES, this.budget - this.memoryUsed), drop);
    return this.disk !== null && this.disk.count !== waiting;
  }

  /**
   * Removes from memory, block by block from `from` (null: the head), the items expired by `now`
   * that `drop` takes (it records their removal, and must not throw), until `enough()` says so
   * after a block; returns where to go on, or null once it passed the tail. Items on disk are
   * left alone. O(items looked at); no object is made for the items kept.
   */
  removeExpiredInMemory(from: BlockPlace | null, now: number, drop: (item: Item) => boolean, enough: () => boolean): BlockPlace | null {
    const frontLength = this.frontLength;
    let frontRemoved = 0;
    const next = this.memory.removeExpired(
      from,
      (expiry) => hasExpired(expiry, now),
      (item, place) => {
        if (!drop(item)) return false;
        this.memBytes -= item.data.length;
        if (place < frontLength) frontRemoved++;
        return true;
      },
      enough,
    );
    if (frontRemoved > 0) this.frontMins = prefixMinima(this.memory.idsFromHead(frontLength - frontRemoved));
    return next;
  }

  /** Drops every item, in memory and on disk. */
  clear(): void {
    this.memory.clear();
    this.memBytes = 0;
    this.frontMins = null;
    this.disk = null;
    this.readFailure = null;
  }

  memoryItems(): Iterable<Item> {
    return this.memory;
  }

  /** The items of the front (put back at the head), head first. O(front). */
  frontItems(): Item[] {
    return this.memory.headItems(this.frontLength);
  }

  /**
   * Items of the run (the items in memory after the front, in growing id order) with ids above
   * `afterId` and below `belowId`, in order, about `maxBytes` of them (at least one, if any).
   * O(blocks + items returned).
   */
  runItems(afterId: number, belowId: number, maxBytes: number): Item[] {
    return this.memory.itemsAfterId(this.frontLength, afterId, belowId, maxBytes);
  }

  /** The add time of the item at the head if it is in memory (never reads from the journal). */
  headAddTimeInMemory(): number | undefined {
    return this.memory.headAddTime();
  }

  /** The smallest id of an item in memory (aborted items may sit before smaller ids), or Infinity. O(1). */
  minMemoryId(): number {
    const front = this.frontMins?.at(-1) ?? Infinity;
    return Math.min(front, this.memory.idAt(this.frontLength) ?? Infinity);
  }

  /** Items in the front (put back at the head). */
  private get frontLength(): number {
    return this.frontMins?.length ?? 0;
  }

  /** The head, a front item, left: its minimum goes (and the array with the last one). */
  private dropFrontHead(front: number[]): void {
    front.pop();
    if (front.length === 0) this.frontMins = null;
  }

  private pushToMemory(item: Item): void {
    this.memory.push(owned(item, this.memory.length));
    this.memBytes += item.data.length;
  }

  /**
   * Reads items back for the head. A read that fails leaves the disk region as it is and sets
   * `readFailure` (the queue refuses takes and says so) until a read works again.
   */
  private readBackSafely(maxBytes?: number, drop?: (item: Item) => boolean): void {
    // A rebuild over turns is copying the items waiting on disk from the files it replaces: they
    // stay where its copy takes them from (nothing of the region moves) until it is in place.
    if (this.journal?.rebuilding === true) return;
    try {
      this.readBack(maxBytes, drop);
    } catch (error) {
      const failure = `reading items back from the journal failed: ${errorText(error)}`;
      if (this.readFailure === null) log.error(`queue '${this.queueName}': ${failure}; takes are refused until it works`);
      this.readFailure = failure;
      return;
    }
    if (this.readFailure !== null) log.info(`queue '${this.queueName}': reading items back works again`);
    this.readFailure = null;
  }

  /** After a failed read-back: tries again (upkeep calls it once a second). */
  retryReadBack(): void {
    if (this.readFailure !== null) this.readBackSafely();
  }

  /**
   * Reads disk items back into memory (but those `drop` takes): up to `maxBytes` (the free
   * budget), and at least one item. Throws for I/O errors.
   */
  private readBack(maxBytes = Math.max(Math.min(this.budget - this.memoryUsed, READ_BACK_SLICE), 1), drop?: (item: Item) => boolean): void {
    // While the journal can't be written, the last records may still wait in the writer.
    if (this.readBackBatch(maxBytes, drop) || this.journal?.failure != null) return;
    this.dropDisk(`${this.disk!.count} item(s) expected in the journal are not there (it was damaged under the server): lost`);
  }

  /**
   * One read-back of up to `maxBytes` (at least one item), into memory but for those `drop`
   * takes; false if items are left on disk and none could be read.
   */
  private readBackBatch(maxBytes: number, drop?: (item: Item) => boolean): boolean {
    const disk = this.disk;
    if (disk === null || this.journal === null) return disk === null;
    const { items, next } = this.journal.readItems(disk.start, disk.count, maxBytes);
    for (const item of items) {
      disk.bytes -= item.data.length;
      disk.minId = item.id + 1;
      if (drop?.(item) !== true) this.pushToMemory(item);
    }
    disk.count -= items.length;
    disk.start = next;
    if (disk.count <= 0) this.disk = null;
    return items.length > 0 || disk.count <= 0;
  }

  private dropDisk(why: string): void {
    log.error(`queue '${this.queueName}': ${why}`);
    this.disk = null;
  }
}

/** `frontMins` for items in queue order: the front is everything before the ascending tail. */
function frontMinimaOf(items: readonly Item[]): number[] | null {
  let tail = items.length - 1;
  while (tail > 0 && items[tail - 1]!.id < items[tail]!.id) tail--;
  return prefixMinima(items.slice(0, Math.max(tail, 0)).map((item) => item.id));
}

/** Prefix minima of the front's ids (head first), innermost first: the head's is last; null for no front. */
function prefixMinima(frontIds: readonly number[]): number[] | null {
  if (frontIds.length === 0) return null;
  const minima: number[] = [];
  let min = Infinity;
  for (let i = frontIds.length - 1; i >= 0; i--) {
    min = Math.min(min, frontIds[i]!);
    minima.push(min);
  }
  return minima;
}

/**
 * The item with bytes of its own to wait in memory with: behind a backlog of SLAB_FROM_ITEMS, a
 * small item goes into a shared slab (it will wait; in the buffer it came in, a socket read of
 * one `set`, it would cost that buffer's object and allocation too: a million 100-byte items sent
 * one per write held 436 MiB, 201 MiB pipelined); ahead of that (it will likely be taken at once)
 * it is copied only if it is a small view into a bigger buffer.
 */
function owned(item: Item, waiting: number): Item {
  const data = waiting < SLAB_FROM_ITEMS ? ownedBytes(item.data) : slabbedBytes(item.data);
  return data === item.data ? item : { ...item, data };
}
