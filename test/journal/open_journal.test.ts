import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { UnsupportedJournalError } from "../../src/journal/open_journal.ts";
import { hasFileHeader } from "../../src/journal/record.ts";
import type { SyncPolicy } from "../../src/journal/sync_policy.ts";
import { headerWithVersion, openQueueJournal } from "../helpers/journal.ts";
import { bytes, concat, text } from "../helpers/bytes.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NEVER: SyncPolicy = { kind: "never" };
const item = (id: number, data = `item ${id}`) => ({ id, addTime: Date.now(), expiry: 0, data: bytes(data) });
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
