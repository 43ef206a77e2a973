/**
 * Gives small byte arrays a home of their own in shared 64 KiB slabs.
 *
 * Items that wait in a queue must not be views into bigger buffers (a socket read, a file read):
 * the view would keep the whole buffer alive. Copying each one into its own ArrayBuffer costs an
 * allocation per item; packing them into slabs costs one per 64 KiB. A slab lives as long as any
 * item in it: one small item kept while the rest of its slab went (another queue's items, taken
 * at once) keeps the whole 64 KiB, so the queue layer moves such survivors out
 * (queue/slab_evacuation.ts) with `copySurvivor`, which packs them into slabs of their own, apart
 * from new items (survivors tend to stay; new items mostly leave at once).
 *
 * Invariants: bytes handed out are never written again (a slab's bytes past `used` are written
 * once, then only read); every slab's buffer is in `slabBuffers`; the slabs being filled are the
 * only ones with room, and `isFilling` names them; empty bytes share one empty array, so they
 * keep no slab.
 */
const SLAB_SIZE = 64 * 1024;
/** Items at least this big get a buffer of their own. */
const OWN_BUFFER_FROM = 8 * 1024;
/** What every empty copy is: it names no slab. */
const EMPTY = new Uint8Array(0);

/** Every live slab's buffer: a view into one is a home already, not a view to copy out of. */
const slabBuffers = new WeakSet<ArrayBufferLike>();

/** Slabs filled one after another: the one being filled and how much of it is used. */
class SlabFill {
  slab = newSlab();
  used = 0;

  copy(bytes: Uint8Array): Uint8Array {
    const length = bytes.length;
    if (length >= OWN_BUFFER_FROM) return new Uint8Array(bytes);
    if (length === 0) return EMPTY;
    if (this.used + length > SLAB_SIZE) {
      this.slab = newSlab();
      this.used = 0;
    }
    const copy = this.slab.subarray(this.used, this.used + length);
    copy.set(bytes);
    this.used += length;
    return copy;
  }
}

function newSlab(): Uint8Array {
  const fresh = new Uint8Array(SLAB_SIZE);
  slabBuffers.add(fresh.buffer);
  return fresh;
}

/** Slabs for bytes arriving (items set, read back, replayed). */
const arrivals = new SlabFill();
/** Slabs for bytes moved out of emptied slabs (`copySurvivor`). */
const survivors = new SlabFill();

/** A copy of `bytes` that doesn't share memory with them. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return arrivals.copy(bytes);
}

/**
 * A copy of `bytes` (which outlived most of their slab) that doesn't share memory with them, in
 * the slabs kept for such survivors.
 */
export function copySurvivor(bytes: Uint8Array): Uint8Array {
  return survivors.copy(bytes);
}

/** `buffer` is a slab still being filled: its room is not waste yet. */
export function isFilling(buffer: ArrayBufferLike): boolean {
  return buffer === arrivals.slab.buffer || buffer === survivors.slab.buffer;
}

/**
 * `bytes` itself if it is in a slab already or is most of its buffer, else a copy (so a small
 * view can't pin a big buffer).
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  return bytes.length * 2 >= bytes.buffer.byteLength || slabBuffers.has(bytes.buffer) ? bytes : copyBytes(bytes);
}

/**
 * `bytes` itself if it is in a slab already, or big and most of its buffer; else a copy in a slab.
 * For bytes that will wait: a small item kept in the buffer it came in (a socket read of one
 * `set`) costs that buffer's object and allocation besides its bytes, about 230 bytes more than
 * in a slab for a 100-byte item.
 */
export function slabbedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= OWN_BUFFER_FROM) return ownedBytes(bytes);
  return slabBuffers.has(bytes.buffer) ? bytes : copyBytes(bytes);
}
