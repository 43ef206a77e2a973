/**
 * A big request's bytes copied into place a slice per call, their CRC-32 worked out as they go
 * and kept beside them (data_crc.ts): the memcache parser's big data blocks and the text parser's
 * long item lines. A 64 MiB copy at once was one 60-95 ms turn; a slice is about a millisecond.
 *
 * Invariant: data[0 .. filled) is copied, and `crc` is their CRC.
 */
import { rememberCrc } from "../data_crc.ts";

/** Bytes from which a request's data is copied into place a slice per call... */
export const ASSEMBLE_FROM = 1024 * 1024;
/** ...this many bytes a call (with its CRC: about a millisecond). */
export const ASSEMBLE_SLICE = 1024 * 1024;

export interface Assembly {
  readonly data: Uint8Array;
  filled: number;
  crc: number;
}

export function newAssembly(bytes: number): Assembly {
  return { data: new Uint8Array(bytes), filled: 0, crc: 0 };
}

/**
 * Copies the next slice (ASSEMBLE_SLICE bytes, or what is left): `copy` writes `count` bytes into
 * `into` at `at`; then adds their CRC. True once all the data is in, its CRC remembered.
 */
export function assembleNext(assembly: Assembly, copy: (into: Uint8Array, at: number, count: number) => void): boolean {
  const { data, filled } = assembly;
  const count = Math.min(ASSEMBLE_SLICE, data.length - filled);
  copy(data, filled, count);
  assembly.crc = Bun.hash.crc32(data.subarray(filled, filled + count), assembly.crc);
  assembly.filled += count;
  if (assembly.filled < data.length) return false;
  rememberCrc(data, assembly.crc);
  return true;
}
