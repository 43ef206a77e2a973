/**
 * Records waiting to be written, encoded straight into reusable buffers (arenas).
 *
 * Small records and small items are packed into arenas, so a batch usually goes to the file as a
 * single buffer with no per-record allocation; items of LARGE_ITEM bytes or more are not copied
 * but written from their own buffer. A batch takes a 256 B arena first, then each four times the
 * last, up to 64 KiB: the 500 children of a fanout, filling in lockstep, don't all ask for 64 KiB
 * at the same moment, and the 1,000 new queues of a burst of sets, each waiting for its file to be
 * created with one record in its batch, hold 256 B each, not 4 KiB (5,000 queues made by
 * pipelined sets peaked at 143 MiB with 4 KiB first arenas, 113-122 MiB with these). Arenas come from a pool shared by every batch and go back to it once their bytes
 * reached the file, so an idle queue holds none and a steady stream of batches allocates nothing.
 * Invariant: `take()` hands out the batch's bytes with the arenas holding them, which the batch
 * never touches again; they go back to the pool only through `releaseArenas`, once the bytes
 * reached the file (a big batch may take several turns to write while new records are added).
 * `take(true)` hands out copies instead, for bytes that must outlive that. An empty batch holds
 * no array: its lists are made by its first record.
 */
import type { Item } from "./item.ts";
import { ADD_HEAD_SIZE, ID_RECORD_SIZE, OP_ADD, writeAddHead, writeIdRecord, type IdOp, type ItemOp } from "./record.ts";

const LARGE_ITEM = 16 * 1024;
/** Arena sizes, each the next one's quarter; a batch's next arena is the next size up. */
const ARENA_SIZES = [256, 1024, 4 * 1024, 16 * 1024, 64 * 1024];
const LARGEST_ARENA = ARENA_SIZES.at(-1)!;
/**
 * Free arenas kept for any batch, per size: 1 MiB of each (4,096 of the smallest: a turn that
 * writes more queues than that allocates the rest; a small allocation is cheap, and memory kept
 * for a burst that may not come again is not).
 */
const SPARE_ARENAS = new Map(ARENA_SIZES.map((size) => [size, (1024 * 1024) / size]));
const spareArenas = new Map(ARENA_SIZES.map((size) => [size, [] as Uint8Array<ArrayBuffer>[]]));
const NO_ARENA = new Uint8Array(0);
/** The chunks of an empty batch (never written to). */
const NO_CHUNKS: readonly Uint8Array[] = [];

export class RecordBatch {
  private arena: Uint8Array<ArrayBuffer> = NO_ARENA;
  /** Start of the part of the arena not yet sealed into `sealed`. */
  private start = 0;
  private used = 0;
  /** The batch's bytes so far, in order: views of its arenas, and large items' own bytes. */
  private sealed: Uint8Array[] | null = null;
  /** Arenas filled since the last `take()`: they hold bytes of the batch. */
  private filled: Uint8Array<ArrayBuffer>[] | null = null;
  /** Bytes in the batch. */
  size = 0;
  /** Records in the batch. */
  records = 0;

  /** An ADD record for `item` (or, with `op`, a PUT_BACK). */
  addItem(item: Item, op: ItemOp = OP_ADD): void {
    const data = item.data;
    const large = data.length >= LARGE_ITEM;
    // reserve() may switch arenas: read this.arena only after it.
    const offset = this.reserve(large ? ADD_HEAD_SIZE : ADD_HEAD_SIZE + data.length);
    writeAddHead(this.arena, offset, item, op);
    if (large) {
      this.seal();
      (this.sealed ??= []).push(data);
    } else {
      this.arena.set(data, offset + ADD_HEAD_SIZE);
    }
    this.size += ADD_HEAD_SIZE + data.length;
    this.records++;
  }

  addId(op: IdOp, id: number): void {
    // reserve() may switch arenas: read this.arena only after it.
    const offset = this.reserve(ID_RECORD_SIZE);
    writeIdRecord(this.arena, offset, op, id);
    this.size += ID_RECORD_SIZE;
    this.records++;
  }

  /**
   * Hands out the batch's bytes, in order, with the arenas holding them, and leaves the batch
   * empty (its next record starts a fresh arena). Give the arenas to `releaseArenas` once the
   * bytes reached the file; with `copy`, arena bytes are copied and the arenas released at once.
   */
  take(copy = false): TakenRecords {
    this.seal();
    const filled = this.filled ?? [];
    const arenas = this.arena === NO_ARENA ? filled : [...filled, this.arena];
    const sealed = this.sealed ?? NO_CHUNKS;
    const chunks = copy ? sealed.map((chunk) => (arenas.some((arena) => arena.buffer === chunk.buffer) ? chunk.slice() : chunk)) : sealed;
    const taken = { chunks, size: this.size, records: this.records, arenas: copy ? [] : arenas };
    if (copy) releaseArenas(arenas);
    this.sealed = null;
    this.filled = null;
    this.arena = NO_ARENA;
    this.start = this.used = 0;
    this.size = this.records = 0;
    return taken;
  }

  private reserve(bytes: number): number {
    if (this.used + bytes > this.arena.length) {
      this.seal();
      this.newArena(bytes);
    }
    const offset = this.used;
    this.used += bytes;
    return offset;
  }

  private seal(): void {
    if (this.used > this.start) (this.sealed ??= []).push(this.arena.subarray(this.start, this.used));
    this.start = this.used;
  }

  /** Switches to an arena with room for `bytes`: 256 B for a batch's first, then each four times the last, up to 64 KiB. */
  private newArena(bytes: number): void {
    if (this.arena !== NO_ARENA) (this.filled ??= []).push(this.arena);
    const wanted = Math.max(bytes, Math.min(this.arena.length * 4, LARGEST_ARENA));
    const size = ARENA_SIZES.find((arenaSize) => arenaSize >= wanted) ?? wanted;
    this.arena = spareArenas.get(size)?.pop() ?? new Uint8Array(size);
    this.start = this.used = 0;
  }
}

/** What `take()` hands out: the records' bytes in order, and the arenas holding them. */
export interface TakenRecords {
  readonly chunks: readonly Uint8Array[];
  readonly size: number;
  readonly records: number;
  readonly arenas: readonly Uint8Array<ArrayBuffer>[];
}

/** Gives arenas whose bytes reached the file back to the pool (as far as there is room). */
export function releaseArenas(arenas: readonly Uint8Array<ArrayBuffer>[]): void {
  for (const arena of arenas) {
    const spare = spareArenas.get(arena.length);
    if (spare !== undefined && spare.length < SPARE_ARENAS.get(arena.length)!) spare.push(arena);
  }
}
