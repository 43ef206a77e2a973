/**
 * CRC-32 (IEEE, as zlib) for records, with the data's part computed once per buffer.
 *
 * An ADD record's CRC covers its own head, then the item's bytes. A fanout stores one item in
 * many queues, so the same bytes would be read again for every child (a 64 MiB item to 10
 * children: 11 passes). Instead the CRC of a big item's bytes is kept beside them (src/data_crc.ts:
 * the request parser may have worked it out already, as the bytes arrived) and joined to each
 * head's CRC arithmetically: `combine(crc(A),
 * crc(B), |B|)` is `crc(A || B)`. The CRC is a remainder of polynomials over GF(2); appending |B|
 * zero bytes to A multiplies its remainder by x^(8|B|) mod P, and the squares x^(2^k) mod P are
 * tabled, so combining costs O(log |B|) multiplications of 32-bit polynomials, not a pass over B.
 */
import { knownCrc, rememberCrc } from "../data_crc.ts";

export const crc32 = Bun.hash.crc32;

/** Below this, reading the bytes again is cheaper than looking up a kept CRC. */
const KEEP_FROM = 64 * 1024;
/** The reflected CRC-32 polynomial. */
const POLY = 0xedb88320;

/** crc32(data, crc32(head)), reading `data` only if its CRC is not known yet, for a big buffer. */
export function crc32Then(head: Uint8Array, data: Uint8Array): number {
  if (data.length < KEEP_FROM) return crc32(data, crc32(head));
  let dataCrc = knownCrc(data);
  if (dataCrc === undefined) {
    dataCrc = crc32(data);
    rememberCrc(data, dataCrc);
  }
  return crc32Combine(crc32(head), dataCrc, data.length);
}

/** The CRC of A followed by B, from crc(A), crc(B) and the length of B. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiply(xToThe8n(lengthB), crcA) ^ crcB) >>> 0;
}

/** a * b mod P, both reflected (bit 31 is x^0). */
function multiply(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** SQUARES[k] = x^(2^k) mod P (reflected). */
const SQUARES: number[] = (() => {
  const squares: number[] = [];
  let power = 0x40000000; // x^1
  for (let k = 0; k < 64; k++) {
    squares.push(power);
    power = multiply(power, power);
  }
  return squares;
})();

/** x^(8n) mod P: the factor appending n zero bytes multiplies a CRC's remainder by. */
function xToThe8n(n: number): number {
  let result = 0x80000000; // x^0
  // 8n = n * 2^3: start at the square for 2^3 and walk n's bits.
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) result = multiply(SQUARES[k]!, result);
  }
  return result;
}
