/**
 * Little-endian integer helpers for journal encoding.
 *
 * 64-bit fields hold JavaScript numbers below 2^53 (ids, unix milliseconds), written as two 32-bit
 * halves so no BigInt is allocated on the hot path.
 */
const TWO_32 = 0x1_0000_0000;

export function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32;
}

/** Signed 64-bit read for Kestrel's i64 timestamps; values beyond 2^53 lose precision only. */
export function readI64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getInt32(offset + 4, true) * TWO_32;
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
