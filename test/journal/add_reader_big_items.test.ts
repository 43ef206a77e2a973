/**
 * AddReader and items bigger than its read buffer (1 MiB): each is read straight into the item's
 * own buffer, the file's bytes once. Reading one into a fresh oversize buffer and copying it out
 * again cost three first touches of fresh memory per item (~3.5 ms per MiB on a VM): a read-back
 * of 1 MiB items stalled the event loop for 30-48 ms (issue 9).
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AddReader } from "../../src/journal/add_reader.ts";
import { fileSystem } from "../../src/journal/files.ts";
import type { Item } from "../../src/journal/item.ts";
import { ADD_HEAD_SIZE, FILE_HEADER_SIZE, encodeAdd, encodeFileHeader } from "../../src/journal/record.ts";
import { concat } from "../helpers/bytes.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const MiB = 1024 * 1024;
const realRead = fileSystem.read;

afterEach(() => {
  fileSystem.read = realRead;
});

function item(id: number, length: number): Item {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i += 4096) data[i] = (id + i / 4096) & 0xff;
  data[length - 1] = id;
  return { id, addTime: 1000 + id, expiry: 0, flags: id, data };
}

/** A segment file holding ADDs of `items`; returns its path and size. */
function segment(items: readonly Item[]): { path: string; size: number } {
  const path = join(tempDir(), "q.1");
  const bytes = concat(encodeFileHeader(), ...items.flatMap((each) => encodeAdd(each)));
  writeFileSync(path, bytes);
  return { path, size: bytes.length };
}

/** Every read: the buffer it went into and how many bytes it read. */
function recordReads(): { buffer: ArrayBufferLike; bytes: number }[] {
  const reads: { buffer: ArrayBufferLike; bytes: number }[] = [];
  fileSystem.read = (fd, buffer, offset, length, position) => {
    const n = realRead(fd, buffer, offset, length, position);
    reads.push({ buffer: buffer.buffer, bytes: n });
    return n;
  };
  return reads;
}

function readAll(path: string): Item[] {
  const reader = new AddReader({ pathOf: () => path, after: () => null });
  try {
    return reader.read({ seq: 1, offset: FILE_HEADER_SIZE }, 100, Infinity).items;
  } finally {
    reader.close();
  }
}

test("an item bigger than the read buffer is read into its own buffer, the file's bytes once", () => {
  // Big items at the start of a read, after a small one, and back to back.
  const written = [item(1, 1.5 * MiB), item(2, 100), item(3, 2.5 * MiB), item(4, MiB + 1), item(5, 100)];
  const { path, size } = segment(written);
  const reads = recordReads();

  const items = readAll(path);

  expect(items.map((each) => each.id)).toEqual([1, 2, 3, 4, 5]);
  items.forEach((each, i) => expect(each).toEqual(written[i]!));
  for (const big of items.filter((each) => each.data.length > MiB)) {
    expect(big.data.byteOffset).toBe(0);
    expect(big.data.buffer.byteLength).toBe(big.data.length);
  }
  // Only the shared read buffer and the big items' own buffers were read into: no oversize buffer.
  const destinations = new Set(reads.map((each) => each.buffer));
  const own = new Set(items.filter((each) => each.data.length > MiB).map((each) => each.data.buffer));
  const others = [...destinations].filter((buffer) => !own.has(buffer));
  expect(others.map((buffer) => buffer.byteLength)).toEqual([MiB]);
  // Each byte of the file read once (what the read buffer held of a big item is copied, not read again).
  expect(reads.reduce((sum, each) => sum + each.bytes, 0)).toBe(size - FILE_HEADER_SIZE);
});

test("a big item whose head is cut at the end of the read buffer is read whole", () => {
  // Item 1's record ends 20 bytes before the read buffer does: item 2's 38-byte head is cut there.
  const written = [item(1, MiB - 20 - ADD_HEAD_SIZE), item(2, 1.25 * MiB), item(3, 10)];
  const { path } = segment(written);

  const items = readAll(path);

  expect(items).toEqual(written);
  expect(items[1]!.data.buffer.byteLength).toBe(1.25 * MiB);
});

test("a damaged big item is skipped and reported, and the items after it read", () => {
  const written = [item(1, 100), item(2, 1.5 * MiB), item(3, 100), item(4, 1.5 * MiB)];
  const { path } = segment(written);
  const file = new Uint8Array(readFileSync(path));
  // A byte of item 2's data, past the read buffer.
  const item2Data = FILE_HEADER_SIZE + ADD_HEAD_SIZE + 100 + ADD_HEAD_SIZE;
  file[item2Data + 1_250_000]! ^= 0xff;
  writeFileSync(path, file);
  const reader = new AddReader({ pathOf: () => path, after: () => null });

  const result = reader.read({ seq: 1, offset: FILE_HEADER_SIZE }, 100, Infinity);
  reader.close();

  expect(result.items.map((each) => each.id)).toEqual([1, 3, 4]);
  expect(result.items.slice(1)).toEqual(written.slice(2));
  expect(result.damage).toContain("damaged bytes");
});
