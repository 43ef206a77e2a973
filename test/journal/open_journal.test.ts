import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { UnsupportedJournalError } from "../../src/journal/open_journal.ts";
import { FILE_HEADER_SIZE, FORMAT_VERSION, OP_OPEN, encodeIdRecord, hasFileHeader, headerVersion } from "../../src/journal/record.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";
import { headerWithVersion, openQueueJournal, version2ItemRecord } from "../helpers/journal.ts";
import { bytes, concat, text } from "../helpers/bytes.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NEVER: SyncPolicy = { kind: "never" };
const item = (id: number, data = `item ${id}`) => ({ id, addTime: Date.now(), expiry: 0, flags: 0, data: bytes(data) });
const open = (dir: string, policy: SyncPolicy = NEVER) => openQueueJournal(dir, "q", { policy });
const datas = (dir: string) => open(dir).items.map((i) => text(i.data));

describe("openJournal", () => {
  test("a new queue's file is created, with the format header, by its first write (and not before)", () => {
    const dir = tempDir();
    const { journal, items, nextId } = open(dir);
    expect(items).toEqual([]);
    expect(nextId).toBe(1);
    expect(existsSync(join(dir, "q"))).toBe(false);
    journal.appendAdd(item(1));
    journal.close();
    expect(hasFileHeader(readFileSync(join(dir, "q")))).toBe(true);
  });

  test("an empty active file (a crash right after it was created) gets its header and is appended to", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q"), "");
    const { journal } = open(dir);
    expect(hasFileHeader(readFileSync(join(dir, "q")))).toBe(true);
    journal.appendAdd(item(1));
    journal.close();
    expect(datas(dir)).toEqual([text(item(1).data)]);
  });

  test("appended records are batched per turn and replay after a reopen", () => {
    const dir = tempDir();
    const { journal } = open(dir);
    const commit = journal.appendAdd(item(1));
    expect(journal.appendAdd(item(2))).toBe(commit);
    journal.appendOpen(1);
    expect(commit.state).toBe("pending");
    flushJournals();
    expect(commit.state).toBe("durable");
    journal.close();
    const reopened = open(dir);
    expect(reopened.items.map((i) => i.id)).toEqual([1, 2]);
    expect(reopened.nextId).toBe(3);
  });

  test("under sync_journal=always a commit settles only after fsync", async () => {
    const dir = tempDir();
    const { journal } = open(dir, { kind: "always" });
    const commit = journal.appendAdd(item(1));
    flushJournals();
    expect(commit.state).toBe("pending");
    await new Promise<void>((resolve) => commit.onSettled(resolve));
    expect(commit.state).toBe("durable");
    journal.close();
  });

  test("reset keeps exactly the entries given, open ones coming back at the head", () => {
    const dir = tempDir();
    const { journal } = open(dir);
    for (let id = 1; id <= 100; id++) journal.appendAdd(item(id));
    journal.reset([
      { item: item(8), open: false },
      { item: item(7, "open"), open: true },
      { item: item(9), open: false },
    ]);
    journal.appendAdd(item(10));
    journal.close();
    expect(datas(dir)).toEqual(["open", "item 8", "item 9", "item 10"]);
  });

  test("a torn tail is truncated and quarantined", () => {
    const dir = tempDir();
    const { journal } = open(dir);
    journal.appendAdd(item(1));
    journal.close();
    const good = readFileSync(join(dir, "q"));
    writeFileSync(join(dir, "q"), concat(good, bytes("\x12\x34\x56\x78\xa7\x01\xff")));
    expect(datas(dir)).toEqual(["item 1"]);
    expect(readFileSync(join(dir, "q")).length).toBe(good.length);
    const quarantined = readdirSync(join(dir, ".kestrel", "quarantine"));
    expect(quarantined.length).toBe(1);
    expect(quarantined[0]).toMatch(new RegExp(`^q\\.\\d{8}T\\d{6}Z\\.${good.length}-${good.length + 7}\\.bad$`));
    expect(text(readFileSync(join(dir, ".kestrel", "quarantine", quarantined[0]!)))).toBe("\x12\x34\x56\x78\xa7\x01\xff");
  });

  test("damage in the middle is cut out and the file rewritten clean", () => {
    const dir = tempDir();
    const { journal } = open(dir);
    journal.appendAdd(item(1));
    flushJournals();
    const offset = readFileSync(join(dir, "q")).length;
    journal.appendAdd(item(2));
    journal.appendAdd(item(3));
    journal.close();
    const file = readFileSync(join(dir, "q"));
    file[offset + 12]! ^= 0x40;
    writeFileSync(join(dir, "q"), file);
    expect(datas(dir)).toEqual(["item 1", "item 3"]);
    expect(datas(dir)).toEqual(["item 1", "item 3"]);
    expect(readdirSync(join(dir, ".kestrel", "quarantine")).length).toBe(1);
  });

  test("a Kestrel journal is replayed and converted to the current format", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q"), new KestrelJournalBuilder().addx("one").addx("two").addx("three").remove().build());
    const { journal, items } = open(dir);
    journal.appendAdd(item(10, "four"));
    journal.close();
    expect(items.map((i) => text(i.data))).toEqual(["two", "three"]);
    expect(hasFileHeader(readFileSync(join(dir, "q")))).toBe(true);
    expect(datas(dir)).toEqual(["two", "three", "four"]);
  });

  test("a version 2 journal replays with flags 0; its active segment gets today's header before anything is appended", () => {
    const dir = tempDir();
    const old = concat(headerWithVersion(2), version2ItemRecord(item(1)), version2ItemRecord(item(2)), encodeIdRecord(OP_OPEN, 1), version2ItemRecord(item(3), true));
    writeFileSync(join(dir, "q"), old);
    const { journal, items } = open(dir);
    // 3 was put back at the head, 1 was open: it comes back in front of it.
    expect(items.map((i) => [i.id, i.flags, text(i.data)])).toEqual([[1, 0, "item 1"], [3, 0, "item 3"], [2, 0, "item 2"]]);
    const upgraded = readFileSync(join(dir, "q"));
    expect(headerVersion(upgraded)).toBe(FORMAT_VERSION);
    expect(upgraded.subarray(FILE_HEADER_SIZE, old.length)).toEqual(Buffer.from(old.subarray(FILE_HEADER_SIZE)));
    journal.appendAdd({ ...item(4), flags: 0xffff_ffff });
    journal.close();
    expect(open(dir).items.map((i) => [i.id, i.flags])).toEqual([[1, 0], [3, 0], [2, 0], [4, 0xffff_ffff]]);
  });

  test("items of a version 2 segment read back from disk (read-behind) have flags 0", () => {
    const dir = tempDir();
    const old = [headerWithVersion(2), ...Array.from({ length: 20 }, (_, i) => version2ItemRecord(item(i + 1, `${i + 1}`.padEnd(100, "."))))];
    writeFileSync(join(dir, "q.0000000001"), concat(...old));
    const { journal, items, disk } = openQueueJournal(dir, "q", { memoryBudget: 500 });
    expect(disk?.count).toBe(20 - items.length);
    const readBack = journal.readItems(disk!.start, disk!.count, Infinity).items;
    journal.close();
    expect([...items, ...readBack].map((i) => [i.id, i.flags])).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, 0]));
    expect(headerVersion(readFileSync(join(dir, "q.0000000001")))).toBe(2);
  });

  test("a journal of a newer format version is left untouched", () => {
    const dir = tempDir();
    const header = headerWithVersion(9);
    writeFileSync(join(dir, "q"), header);
    expect(() => open(dir)).toThrow(UnsupportedJournalError);
    expect(readFileSync(join(dir, "q"))).toEqual(Buffer.from(header));
    expect(existsSync(join(dir, ".kestrel", "quarantine"))).toBe(false);
  });
});

describe("quarantine", () => {
  test("never overwrites: the same damage found twice in one second gets two files", () => {
    const dir = tempDir();
    const { journal } = open(dir);
    journal.appendAdd(item(1));
    journal.close();
    const good = readFileSync(join(dir, "q"));
    for (const tail of ["first", "again"]) {
      writeFileSync(join(dir, "q"), concat(good, bytes(tail)));
      open(dir).journal.close();
    }
    const files = readdirSync(join(dir, ".kestrel", "quarantine")).sort();
    expect(files.length).toBe(2);
    expect(files.map((file) => text(readFileSync(join(dir, ".kestrel", "quarantine", file)))).sort()).toEqual(["again", "first"]);
  });
});
