/**
 * The CRC-32 (IEEE) of big byte arrays, kept beside them once known, so no one reads them again
 * for it: the request parser works it out slice by slice while it copies a big `set`'s data into
 * place, and the journal, which needs it for every ADD record of the item (once per fanout child),
 * reads it here instead of passing over 64 MiB in one turn.
 *
 * Invariant: a CRC is kept only for the exact bytes it was computed over (items never change);
 * the WeakMap keeps it as long as the array lives.
 */
const known = new WeakMap<Uint8Array, number>();

/** The CRC of `data`, if known. */
export function knownCrc(data: Uint8Array): number | undefined {
  return known.get(data);
}

/** `crc` is the CRC-32 of all of `data`. */
export function rememberCrc(data: Uint8Array, crc: number): void {
  known.set(data, crc);
}
