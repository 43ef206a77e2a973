import { describe, expect, test } from "bun:test";
import { viewOf } from "../../src/journal/binary.ts";
import {
  FILE_HEADER_SIZE,
  OP_ADD,
  OP_OPEN,
  OP_PUT_BACK,
  OP_REMOVE,
  decodeRecordAt,
  encodeAdd,
  encodeFileHeader,
  encodeIdRecord,
  findNextRecord,
  hasFileHeader,
} from "../../src/journal/record.ts";
import { bytes, concat } from "../helpers/bytes.ts";
import { version2ItemRecord } from "../helpers/journal.ts";

const item = { id: 2 ** 40 + 7, addTime: 1_795_000_000_123, expiry: 1_795_000_060_000, flags: 0xfedc_ba98, data: bytes("hello\r\nworld\0") };

describe("journal record format", () => {
  test("file header round-trips and rejects a flipped bit", () => {
    const header = encodeFileHeader();
    expect(header.length).toBe(FILE_HEADER_SIZE);
    expect(hasFileHeader(header)).toBe(true);
    header[9]! ^= 1;
    expect(hasFileHeader(header)).toBe(false);
  });

  test("ADD round-trips ids and times beyond 32 bits, 32-bit flags and binary data", () => {
    const record = concat(...encodeAdd(item));
    const decoded = decodeRecordAt(record, viewOf(record), 0);
    expect(decoded?.end).toBe(record.length);
    expect(decoded?.record.op).toBe(OP_ADD);
    if (decoded?.record.op !== OP_ADD) throw new Error("not an add");
    expect(decoded.record.item.id).toBe(item.id);
    expect(decoded.record.item.addTime).toBe(item.addTime);
    expect(decoded.record.item.expiry).toBe(item.expiry);
    expect(decoded.record.item.flags).toBe(item.flags);
    expect([...decoded.record.item.data]).toEqual([...item.data]);
  });

  test("ADD and PUT_BACK of versions 1 and 2 (no flags field) decode as today's, with flags 0", () => {
    const { flags: _, ...unflagged } = item;
    for (const [putBack, op] of [[false, OP_ADD], [true, OP_PUT_BACK]] as const) {
      const record = concat(bytes("junk"), version2ItemRecord(unflagged, putBack));
      const view = viewOf(record);
      expect(findNextRecord(record, view, 0)).toBe(4);
      expect(decodeRecordAt(record, view, 4)).toEqual({ record: { op, item: { ...unflagged, flags: 0, data: item.data } }, end: record.length });
    }
  });

  test("id records round-trip", () => {
    const record = encodeIdRecord(OP_OPEN, 123456789012);
    const decoded = decodeRecordAt(record, viewOf(record), 0);
    expect(decoded?.record).toEqual({ op: OP_OPEN, id: 123456789012 });
  });

  test("every single-bit flip and every truncation is detected", () => {
    const record = concat(...encodeAdd(item));
    for (let i = 0; i < record.length * 8; i++) {
      const copy = record.slice();
      copy[i >> 3]! ^= 1 << (i & 7);
      const decoded = decodeRecordAt(copy, viewOf(copy), 0);
      if (decoded !== null) throw new Error(`flip of bit ${i} went undetected`);
    }
    for (let n = 0; n < record.length; n++) {
      const torn = record.subarray(0, n);
      expect(decodeRecordAt(torn, viewOf(torn), 0)).toBeNull();
    }
  });

  test("findNextRecord skips garbage to the next intact record", () => {
    const good = encodeIdRecord(OP_REMOVE, 5);
    const garbage = new Uint8Array(100).map((_, i) => (i * 37 + 0xa7) & 0xff);
    const file = concat(garbage, good);
    expect(findNextRecord(file, viewOf(file), 0)).toBe(garbage.length);
    expect(findNextRecord(garbage, viewOf(garbage), 0)).toBe(-1);
  });
});
