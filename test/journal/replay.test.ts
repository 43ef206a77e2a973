import { describe, expect, test } from "bun:test";
import { encodeAdd, encodeFileHeader, encodeIdRecord, FORMAT_VERSION, OP_ABORT, OP_OPEN, OP_REMOVE } from "../../src/journal/record.ts";
import { replayJournal } from "../helpers/replay.ts";
import { bytes, concat, text } from "../helpers/bytes.ts";
import { headerWithVersion } from "../helpers/journal.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";

const NOW = 1_795_000_000_000;
const add = (id: number, data = `item ${id}`) => concat(...encodeAdd({ id, addTime: NOW, expiry: 0, flags: 0, data: bytes(data) }));
const datas = (file: Uint8Array) => replayJournal(file, NOW).items.map((i) => text(i.data));

describe("replay of the current format", () => {
  test("applies adds, removes, opens and aborts exactly", () => {
    const file = concat(
      encodeFileHeader(),
      add(1),
      add(2),
      add(3),
      encodeIdRecord(OP_REMOVE, 1),
      encodeIdRecord(OP_OPEN, 2),
      encodeIdRecord(OP_OPEN, 3),
      encodeIdRecord(OP_ABORT, 3),
    );
    const outcome = replayJournal(file, NOW);
    expect(outcome.format).toBe("current");
    expect(outcome.damage).toEqual([]);
    expect(outcome.records).toBe(7);
    expect(outcome.reopened).toBe(1);
    expect(outcome.items.map((i) => i.id)).toEqual([2, 3]);
    expect(outcome.nextId).toBe(4);
    expect(outcome.validEnd).toBe(file.length);
  });

  test("an empty file is an empty queue", () => {
    const outcome = replayJournal(new Uint8Array(0), NOW);
    expect(outcome.format).toBe("empty");
    expect(outcome.items).toEqual([]);
  });

  test("a torn tail is reported from the last intact record to the end", () => {
    const good = concat(encodeFileHeader(), add(1), add(2));
    const torn = add(3).subarray(0, 20);
    const outcome = replayJournal(concat(good, torn), NOW);
    expect(outcome.items.map((i) => i.id)).toEqual([1, 2]);
    expect(outcome.validEnd).toBe(good.length);
    expect(outcome.damage).toEqual([{ start: good.length, end: good.length + 20, reason: "torn or corrupt tail" }]);
  });

  test("a corrupt record in the middle is skipped and replay goes on", () => {
    const before = concat(encodeFileHeader(), add(1));
    const bad = add(2);
    bad[bad.length - 1]! ^= 0xff;
    const file = concat(before, bad, add(3), encodeIdRecord(OP_REMOVE, 1));
    const outcome = replayJournal(file, NOW);
    expect(outcome.items.map((i) => i.id)).toEqual([3]);
    expect(outcome.damage).toEqual([{ start: before.length, end: before.length + bad.length, reason: "corrupt record" }]);
  });

  test("a damaged file header doesn't lose the records after it", () => {
    const file = concat(encodeFileHeader(), add(1), add(2));
    file[3] = 0;
    expect(datas(file)).toEqual(["item 1", "item 2"]);
    expect(replayJournal(file, NOW).damage[0]?.reason).toBe("damaged file header");
  });

  test("a file of a newer format version is refused, not replayed", () => {
    expect(replayJournal(concat(headerWithVersion(FORMAT_VERSION + 1), add(1)), NOW).unsupportedVersion).toBe(FORMAT_VERSION + 1);
  });
});

describe("replay of Kestrel's format", () => {
  test("ADD, ADDX and REMOVE replay in order with expiries", () => {
    const file = new KestrelJournalBuilder().add("a", 1_900_000_000).addx("b", 1_600_000_000_000, 1_900_000_000_000).add("c").remove().build();
    const outcome = replayJournal(file, NOW);
    expect(outcome.format).toBe("kestrel");
    expect(outcome.items.map((i) => [text(i.data), i.expiry])).toEqual([
      ["b", 1_900_000_000_000],
      ["c", 0],
    ]);
    expect(outcome.items[0]!.addTime).toBe(1_600_000_000_000);
  });

  test("transactions: confirm drops, unremove returns to the head, open ones come back", () => {
    const file = new KestrelJournalBuilder()
      .addx("a")
      .addx("b")
      .addx("c")
      .addx("d")
      .removeTentative() // a -> xid 1
      .removeTentative() // b -> xid 2
      .removeTentative() // c -> xid 3
      .confirmRemove(1)
      .unremove(2)
      .build();
    expect(datas(file)).toEqual(["c", "b", "d"]);
  });

  test("SAVE_XID and ADD_XID carry transaction ids across a rewritten journal", () => {
    const file = new KestrelJournalBuilder()
      .addXid(7, "open one")
      .removeTentative()
      .saveXid(9)
      .addx("queued")
      .removeTentative() // queued -> xid 10
      .confirmRemove(7)
      .unremove(10)
      .build();
    expect(datas(file)).toEqual(["queued"]);
  });

  test("a Kestrel 2 reliable read (REMOVE_TENTATIVE_XID, then CONFIRM_REMOVE) replays exactly", () => {
    const file = new KestrelJournalBuilder().addx("a").addx("b").removeTentativeXid(1).confirmRemove(1).addx("c").build();
    expect(datas(file)).toEqual(["b", "c"]);
  });

  test("a broken record cuts the replay there and reports the rest as damage", () => {
    const good = new KestrelJournalBuilder().addx("a").addx("b").build();
    const file = concat(good, bytes("\x02\xff\xff\xff\x7fgarbage"));
    const outcome = replayJournal(file, NOW);
    expect(datas(file)).toEqual(["a", "b"]);
    expect(outcome.format).toBe("kestrel");
    expect(outcome.damage).toEqual([{ start: good.length, end: file.length, reason: `torn or impossible ADDX at offset ${good.length}` }]);
  });

  test("an unknown opcode cuts the replay there", () => {
    const good = new KestrelJournalBuilder().add("x").build();
    const outcome = replayJournal(concat(good, bytes("\x63\x00")), NOW);
    expect(outcome.items.length).toBe(1);
    expect(outcome.damage[0]?.reason).toBe(`unknown opcode 99 at offset ${good.length}`);
  });
});
