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
 * `ids` is a WeakMap, not a Map, though `buffers` keeps every counted buffer alive anyway: a home
 * is added and forgotten for nearly every item (a set's bytes are most of their socket read, whose
 * buffer becomes the home), and a Map churned that way kept forgotten buffers reachable for the
 * young-generation collections, which then moved them to the old generation: at 10+10
 * connections, 4 MiB of dead socket reads every 200 ms, and a full collection (a 5-8 ms pause)
 * twice a second. With a WeakMap nothing is moved and a full collection is rare.
 *
 * Invariants: `ids` maps each counted buffer to its number and `buffers[id]` back; `counts[id]` is
 * the number of slots naming it, above zero for every number in use; `homes` is the number of
 * counted buffers; free numbers are reused.
 */

const ids = new WeakMap<ArrayBufferLike, number>();
let homes = 0;
const buffers: (ArrayBufferLike | undefined)[] = [];
let counts = new Int32Array(1024);
const freeIds: number[] = [];

/** The home of `bytes`, counted once more. */
export function holdHome(bytes: Uint8Array): number {
  let id = ids.get(bytes.buffer);
  if (id === undefined) {
    id = freeIds.pop() ?? buffers.length;
    if (id >= counts.length) {
      const grown = new Int32Array(counts.length * 2);
      grown.set(counts);
      counts = grown;
    }
    buffers[id] = bytes.buffer;
    ids.set(bytes.buffer, id);
    homes++;
  }
  counts[id]!++;
  return id;
}

/** One slot no longer names home `id`; at zero it is forgotten. */
export function releaseHome(id: number): void {
  if (--counts[id]! > 0) return;
  ids.delete(buffers[id]!);
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
