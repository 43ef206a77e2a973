/**
 * The queue a journal describes, rebuilt record by record during replay, within a memory budget.
 *
 * Every operation is O(1) (amortised; `main` is an OrderedItems, O(log n) to find an item
 * removed out of order): `main` holds never-opened items in add order; `front`
 * holds items an abort returned to the head, as a stack whose top is the head (stale entries are
 * skipped lazily, `frontItems` says which are live); `open` holds items handed out and not yet
 * confirmed. The live queue is the open items first (they come back at the head at start-up),
 * then the front stack from the top, then `main`, then the disk region.
 *
 * Read-behind: once the items in memory would exceed the budget (each counting its bytes and its
 * overhead, `memoryCost`, as the server counted them), later adds are only counted in
 * the disk region (where its first ADD record is, how many, how many bytes), as the server did
 * when it wrote them. A remove or open of an item that is still in the disk region reads items
 * back from the journal into `main` until it is there. Disk items have ids above every item in
 * memory and increasing in journal order, which bounds that search.
 */
import type { Position } from "./add_reader.ts";
import { copyBytes } from "./byte_slab.ts";
import { memoryCost, type Item } from "./item.ts";
import { OrderedItems } from "./ordered_items.ts";
import { OP_ABORT, OP_ADD, OP_OPEN, OP_PUT_BACK, OP_REMOVE, type JournalRecord } from "./record.ts";

export interface DiskRegion {
  /** The first ADD record not yet read back. */
  start: Position;
  count: number;
  bytes: number;
  /** No item at or after `start` has a smaller id. */
  minId: number;
}

/** Reads ADD records back from `from`: the items (in order) and the position after them. */
export type ItemSource = (from: Position, maxBytes: number) => { items: Item[]; next: Position };

export class ReplayState {
  private readonly main = new OrderedItems();
  private readonly frontStack: number[] = [];
  private readonly frontItems = new Map<number, Item>();
  private readonly open = new Map<number, Item>();
  private maxId = 0;
  /** The memory cost (`memoryCost`) of the items in memory. */
  private memoryUsed = 0;
  disk: DiskRegion | null = null;

  constructor(
    private readonly budget = Infinity,
    private readonly source: ItemSource | null = null,
  ) {}

  /** Applies one record of our format (an ADD's record at `position`, see `add`). */
  apply(record: JournalRecord, position?: Position): void {
    if (record.op === OP_ADD) this.add(record.item, position);
    else if (record.op === OP_PUT_BACK) this.putBack(record.item);
    else if (record.op === OP_REMOVE) this.remove(record.id);
    else if (record.op === OP_OPEN) this.markOpen(record.id);
    else if (record.op === OP_ABORT) this.abort(record.id);
  }

  /**
   * Appends an item whose ADD record is at `position`; a repeated id (possible only after damage)
   * is ignored. Without a position (Kestrel records) the item always stays in memory. An item kept
   * in memory gets its own copy of its bytes (the file buffer they are read from is reused).
   */
  add(item: Item, position?: Position): void {
    if (item.id > this.maxId) this.maxId = item.id;
    if (this.isLive(item.id)) return;
    if (position !== undefined && this.source !== null && (this.disk !== null || this.memoryUsed + memoryCost(item) > this.budget)) {
      this.disk ??= { start: position, count: 0, bytes: 0, minId: item.id };
      this.disk.count++;
      this.disk.bytes += item.data.length;
      return;
    }
    this.main.add({ ...item, data: copyBytes(item.data) });
    this.memoryUsed += memoryCost(item);
  }

  /** Puts an item at the head (kept in memory, whatever the budget: it is one item). */
  putBack(item: Item): void {
    if (item.id > this.maxId) this.maxId = item.id;
    if (this.isLive(item.id)) return;
    this.frontItems.set(item.id, { ...item, data: copyBytes(item.data) });
    this.frontStack.push(item.id);
    this.memoryUsed += memoryCost(item);
  }

  /** Drops an item wherever it is; unknown ids are ignored. */
  remove(id: number): void {
    const item = this.take(id) ?? this.open.get(id);
    if (item === undefined) return;
    this.open.delete(id);
    this.memoryUsed -= memoryCost(item);
  }

  markOpen(id: number): void {
    const item = this.take(id);
    if (item !== undefined) this.open.set(id, item);
  }

  abort(id: number): void {
    const item = this.open.get(id);
    if (item === undefined) return;
    this.open.delete(id);
    this.frontItems.set(id, item);
    this.frontStack.push(id);
  }

  /**
   * Drops every item with an id below `floor` (they had left the queue for good, but the records
   * saying so were lost); returns how many. O(live items): for damaged journals only.
   */
  dropBelow(floor: number): number {
    if (this.disk !== null && this.disk.minId < floor) this.readBackUntil(floor - 1);
    const below = [...this.main.values(), ...this.frontItems.values(), ...this.open.values()].filter((item) => item.id < floor);
    for (const item of below) {
      this.main.delete(item.id);
      this.frontItems.delete(item.id);
      this.open.delete(item.id);
      this.memoryUsed -= memoryCost(item);
    }
    return below.length;
  }

  private isLive(id: number): boolean {
    return this.main.has(id) || this.frontItems.has(id) || this.open.has(id);
  }

  /** The item at the head of the queue (Kestrel records address items by position). */
  head(): Item | undefined {
    const stack = this.frontStack;
    while (stack.length > 0) {
      const item = this.frontItems.get(stack[stack.length - 1]!);
      if (item !== undefined) return item;
      stack.pop();
    }
    return this.main.first();
  }

  get nextId(): number {
    return this.maxId + 1;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** The live items held in memory, in queue order, open items returned to the head. */
  items(): Item[] {
    const result = [...this.open.values()];
    const emitted = new Set<number>();
    for (let i = this.frontStack.length - 1; i >= 0; i--) {
      const id = this.frontStack[i]!;
      const item = this.frontItems.get(id);
      if (item !== undefined && !emitted.has(id)) {
        emitted.add(id);
        result.push(item);
      }
    }
    for (const item of this.main.values()) result.push(item);
    return result;
  }

  /** Removes an item from the queue proper (not the open set), reading it back from disk if needed. */
  private take(id: number): Item | undefined {
    let item = this.main.get(id) ?? this.frontItems.get(id);
    if (item === undefined && this.disk !== null && id >= this.disk.minId) {
      this.readBackUntil(id);
      item = this.main.get(id);
    }
    if (item !== undefined) {
      this.main.delete(id);
      this.frontItems.delete(id);
    }
    return item;
  }

  /** Moves disk items into memory, in order, until one with an id of at least `id` is there. */
  private readBackUntil(id: number): void {
    while (this.disk !== null && this.disk.minId <= id) {
      const disk = this.disk;
      const { items, next } = this.source!(disk.start, Math.max(this.budget - this.memoryUsed, 1));
      for (const item of items) {
        this.main.add(item);
        this.memoryUsed += memoryCost(item);
        disk.count--;
        disk.bytes -= item.data.length;
        disk.minId = item.id + 1;
      }
      disk.start = next;
      if (disk.count <= 0 || items.length === 0) this.disk = null;
    }
  }
}
