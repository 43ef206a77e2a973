/**
 * The buffers queued items' bytes live in (slabs, or a big item's own buffer), numbered, so a
 * queue can name an item's bytes with three numbers (home, offset, length) instead of holding a
 * Uint8Array object per item: a million queued items are then no million objects for the
 * collector to trace. Open items (open_items.ts) hold their homes too, so the waste below counts
 * the buffers they keep.
 *
 * A home is counted once per item slot (or open item) that names it and forgotten when the count drops to zero
 * (its buffer is then freed by the collector once no view of it is left, e.g. an item handed out
 * and still being written to a socket). Many items share a home: a 64 KiB slab holds hundreds,
 * and a fanout child names the same bytes as its parent.
 *
 * A buffer's number is kept on the buffer itself (a symbol-keyed property), not in a Map: a home
 * is added and forgotten for nearly every item (a set's bytes are most of their socket read, whose
 * buffer becomes the home), and a Map churned that way kept forgotten buffers reachable for the
 * young-generation collections, which then moved them to the old generation: at 10+10
 * connections, 4 MiB of dead socket reads every 200 ms, and a full collection (a 5-8 ms pause)
 * twice a second. A WeakMap moved nothing, but its entries (one per home: 150,000 with a backlog
 * of 1 KB items sent one per write) made every collection long (pauses of 100-190 ms).
 *
 * Each home also keeps the bytes its slots name (`live`, a fanout's shared bytes once per slot,
 * as each queue counts them in its memory bytes) beside its buffer's size, so the waste (buffer
 * bytes no slot names) is known per home and in all. Past WASTE_SLACK_BYTES and half the live
 * bytes, the listener (slab_evacuation.ts) is called, once until it listens again, to move the
 * survivors of mostly wasted homes elsewhere (`isSparse`).
 *
 * Invariants: `buffer[HOME]` is the number of each counted buffer (undefined once forgotten) and
 * `buffers[id]` the buffer back; `counts[id]` is the number of slots naming it, above zero for
 * every number in use; `homes` is the number of counted buffers; free numbers are reused.
 * `live[id]` is the sum of the lengths the slots naming `id` gave (`holdHome` adds them,
 * `releaseHome` takes them back), `sizes[id]` its buffer's byteLength; `heldTotal` and `liveTotal`
 * are their sums over the counted homes.
 */

const HOME = Symbol("byte home");
type Homed = ArrayBufferLike & { [HOME]?: number };
let homes = 0;
const buffers: (ArrayBufferLike | undefined)[] = [];
let counts = new Int32Array(1024);
/** Per home: the bytes its slots name, and its buffer's size (Float64: a big item named by many children passes 2 GiB). */
let live = new Float64Array(1024);
let sizes = new Float64Array(1024);
const freeIds: number[] = [];
let heldTotal = 0;
let liveTotal = 0;

/**
 * Waste tolerated whatever the live bytes: slabs being filled, and a little room so that a small
 * server doesn't move its few items around for nothing.
 */
export const WASTE_SLACK_BYTES = 4 * 1024 * 1024;
/** Called once the waste passes the limit (see `wasteful`), then not again until `listenForWaste`. */
let wasteListener: (() => void) | null = null;

/** The home of `bytes`, counted once more (for `bytes.length` of its bytes). */
export function holdHome(bytes: Uint8Array): number {
  const buffer: Homed = bytes.buffer;
  let id = buffer[HOME];
  const length = bytes.length;
  if (id === undefined) {
    id = freeIds.pop() ?? buffers.length;
    if (id >= counts.length) grow();
    buffers[id] = buffer;
    buffer[HOME] = id;
    homes++;
    sizes[id] = buffer.byteLength;
    heldTotal += buffer.byteLength;
    counts[id] = 1;
    live[id] = length;
    liveTotal += length;
    if (wasteListener !== null && wasteful()) callWasteListener();
    return id;
  }
  counts[id]!++;
  live[id]! += length;
  liveTotal += length;
  return id;
}

/** One slot, naming `length` bytes, no longer names home `id`; at zero it is forgotten. */
export function releaseHome(id: number, length: number): void {
  liveTotal -= length;
  if (--counts[id]! > 0) {
    live[id]! -= length;
    if (wasteListener !== null && wasteful()) callWasteListener();
    return;
  }
  heldTotal -= sizes[id]!;
  live[id] = sizes[id] = 0;
  (buffers[id] as Homed)[HOME] = undefined;
  homes--;
  buffers[id] = undefined;
  freeIds.push(id);
}

function grow(): void {
  const length = counts.length * 2;
  const grownCounts = new Int32Array(length);
  grownCounts.set(counts);
  counts = grownCounts;
  const grownLive = new Float64Array(length);
  grownLive.set(live);
  live = grownLive;
  const grownSizes = new Float64Array(length);
  grownSizes.set(sizes);
  sizes = grownSizes;
}

/** The bytes counted homes hold beyond what their slots name pass half those and the slack. */
function wasteful(): boolean {
  return heldTotal - liveTotal > liveTotal / 2 + WASTE_SLACK_BYTES;
}

function callWasteListener(): void {
  const listener = wasteListener!;
  wasteListener = null;
  listener();
}

/**
 * Calls `listener` once the waste passes the limit (now, if it has): once, so it must listen
 * again when it has moved what it could. It should only schedule work: it is called from inside
 * queue operations.
 */
export function listenForWaste(listener: () => void): void {
  wasteListener = listener;
  if (wasteful()) callWasteListener();
}

/**
 * Home `id` holds more than a quarter of its buffer as waste: its slots' bytes are worth moving
 * (all of them together free the buffer, for at most three times the bytes freed).
 */
export function isSparse(id: number): boolean {
  return live[id]! * 4 < sizes[id]! * 3;
}

/** The buffer of home `id`. */
export function bufferOf(id: number): ArrayBufferLike {
  return buffers[id]!;
}

/** A view of `length` bytes at `offset` in home `id`. */
export function bytesAt(id: number, offset: number, length: number): Uint8Array {
  return new Uint8Array(buffers[id]!, offset, length);
}

/** Homes counted now (for tests). */
export function homeCount(): number {
  return homes;
}

/** Bytes of the buffers counted homes hold (slabs, own buffers, socket reads kept). */
export function heldBytes(): number {
  return heldTotal;
}

/** Bytes the slots name, a shared item's once per slot. */
export function liveBytes(): number {
  return liveTotal;
}
