/**
 * Gives small byte arrays a home of their own in shared 64 KiB slabs.
 *
 * Items that wait in a queue must not be views into bigger buffers (a socket read, a file read):
 * the view would keep the whole buffer alive. Copying each one into its own ArrayBuffer costs an
 * allocation per item; packing them into slabs costs one per 64 KiB. A slab lives as long as any
 * item in it; queues free items in order, so slabs are freed in order too.
 */
const SLAB_SIZE = 64 * 1024;
/** Items at least this big get a buffer of their own. */
const OWN_BUFFER_FROM = 8 * 1024;

/** Every live slab's buffer: a view into one is a home already, not a view to copy out of. */
const slabBuffers = new WeakSet<ArrayBufferLike>();
let slab = newSlab();
let used = 0;

function newSlab(): Uint8Array {
  const fresh = new Uint8Array(SLAB_SIZE);
  slabBuffers.add(fresh.buffer);
  return fresh;
}

/** A copy of `bytes` that doesn't share memory with them. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  if (length >= OWN_BUFFER_FROM) return new Uint8Array(bytes);
  if (used + length > SLAB_SIZE) {
    slab = newSlab();
    used = 0;
  }
  const copy = slab.subarray(used, used + length);
  copy.set(bytes);
  used += length;
  return copy;
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
