/**
 * The buffers queued items' bytes live in (slabs, or a big item's own buffer), numbered, so a
 * queue can name an item's bytes with three numbers (home, offset, length) instead of holding a
 * Uint8Array object per item: a million queued items are then no million objects for the
 * collector to trace.
 *
 * A home is counted once per item slot that names it and forgotten when the count drops to zero
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
 * Invariants: `buffer[HOME]` is the number of each counted buffer (undefined once forgotten) and
 * `buffers[id]` the buffer back; `counts[id]` is the number of slots naming it, above zero for
 * every number in use; `homes` is the number of counted buffers; free numbers are reused.
 */

const HOME = Symbol("byte home");
type Homed = ArrayBufferLike & { [HOME]?: number };
let homes = 0;
const buffers: (ArrayBufferLike | undefined)[] = [];
let counts = new Int32Array(1024);
const freeIds: number[] = [];

/** The home of `bytes`, counted once more. */
export function holdHome(bytes: Uint8Array): number {
  const buffer: Homed = bytes.buffer;
  let id = buffer[HOME];
  if (id === undefined) {
    id = freeIds.pop() ?? buffers.length;
    if (id >= counts.length) {
      const grown = new Int32Array(counts.length * 2);
      grown.set(counts);
      counts = grown;
    }
    buffers[id] = buffer;
    buffer[HOME] = id;
    homes++;
  }
  counts[id]!++;
  return id;
}

/** One slot no longer names home `id`; at zero it is forgotten. */
export function releaseHome(id: number): void {
  if (--counts[id]! > 0) return;
  (buffers[id] as Homed)[HOME] = undefined;
  homes--;
  buffers[id] = undefined;
  freeIds.push(id);
}

/** A view of `length` bytes at `offset` in home `id`. */
export function bytesAt(id: number, offset: number, length: number): Uint8Array {
  return new Uint8Array(buffers[id]!, offset, length);
}

/** Homes counted now (for tests). */
export function homeCount(): number {
  return homes;
}
