import { describe, expect, test } from "bun:test";
import { text } from "../helpers/bytes.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { replayJournal } from "../helpers/replay.ts";

const NOW = 1_795_000_000_000;
const datas = (journal: KestrelJournalBuilder) => replayJournal(journal.build(), NOW).items.map((i) => text(i.data));
const queued = (...items: string[]) => items.reduce((journal, item) => journal.addx(item), new KestrelJournalBuilder());

describe("Kestrel 2's records (read as 2.4's PersistentQueue.replayJournal does)", () => {
  test("REMOVE_TENTATIVE_XID opens the head under its xid; CONFIRM_REMOVE and UNREMOVE name it", () => {
    expect(datas(queued("a", "b", "c").removeTentativeXid(5).removeTentativeXid(9).confirmRemove(5).unremove(9))).toEqual(["b", "c"]);
  });

  test("CONTINUE closes its transaction for good and appends its item at the tail", () => {
    expect(datas(queued("a", "b").removeTentativeXid(1).continueXid(1, "a, continued"))).toEqual(["b", "a, continued"]);
    expect(datas(queued("a").continueXid(4, "no transaction 4"))).toEqual(["a", "no transaction 4"]);
  });

  test("a CONTINUE item keeps its add time and expiry", () => {
    const items = replayJournal(queued("a").removeTentativeXid(1).continueXid(1, "b", 1_600_000_000_123, 1_900_000_000_456).build(), NOW).items;
    expect(items.map((i) => [text(i.data), i.addTime, i.expiry, i.flags])).toEqual([["b", 1_600_000_000_123, 1_900_000_000_456, 0]]);
  });

  test("transactions open at the end go back to the head, lowest xid first", () => {
    expect(datas(queued("a", "b", "c", "d").removeTentativeXid(7).removeTentativeXid(3).removeTentativeXid(5))).toEqual(["b", "c", "a", "d"]);
  });

  test("an xid opened again while open forgets the item it held (Kestrel 2.4's table keeps one item per xid)", () => {
    expect(datas(queued("a", "b", "c").removeTentativeXid(1).removeTentativeXid(1))).toEqual(["b", "c"]);
  });

  test("REMOVE_TENTATIVE_XID sets the xid counter, also on an empty queue", () => {
    expect(datas(new KestrelJournalBuilder().removeTentativeXid(5).addx("a").removeTentative().confirmRemove(6).addx("b"))).toEqual(["b"]);
  });

  test("REMOVE and the opens take the head, never an open item", () => {
    expect(datas(queued("a", "b", "c").removeTentativeXid(1).remove().unremove(1))).toEqual(["a", "c"]);
  });
});

describe("Kestrel 1.2's records (read as 1.2's PersistentQueue.replayJournal does)", () => {
  test("REMOVE_TENTATIVE numbers from the xid counter; the open ones come back in the order of those numbers", () => {
    // a gets 1, b 11 (after SAVE_XID 10), c 2 (after SAVE_XID 0: 1 is taken): a, c, b.
    expect(datas(queued("a", "b", "c", "d").removeTentative().saveXid(10).removeTentative().saveXid(0).removeTentative())).toEqual(["a", "c", "b", "d"]);
  });

  test("a rewritten journal's open items (ADD_XID, REMOVE_TENTATIVE) are named by the xids they carry", () => {
    const journal = new KestrelJournalBuilder().addXid(9, "x").removeTentative().addXid(4, "y").removeTentative().saveXid(9).addx("z");
    // Still open at the end: in the order the rewrite wrote them (Kestrel 1.2 wrote the highest xid first).
    expect(datas(journal)).toEqual(["x", "y", "z"]);
    // The builder grows: each line replays the records of the lines before it too.
    expect(datas(journal.confirmRemove(4))).toEqual(["x", "z"]);
    expect(datas(journal.unremove(9).removeTentative().confirmRemove(10))).toEqual(["z"]);
  });

  test("an aborted item opened again gets a number from the counter, as the running server gave it", () => {
    const journal = new KestrelJournalBuilder().addXid(9, "x").removeTentative().saveXid(9).unremove(9).removeTentative().confirmRemove(10);
    expect(datas(journal.addx("after"))).toEqual(["after"]);
  });
});

describe("Kestrel's expiries", () => {
  test("a negative expiry is already expired, as Kestrel reads it (a time before now), never 'never'", () => {
    const journal = new KestrelJournalBuilder().addx("gone", 1_700_000_000_000, -5).add("old", -1).addx("kept", 1_700_000_000_000, 0).build();
    const items = replayJournal(journal, NOW).items;
    expect(items.map((i) => [text(i.data), i.expiry > 0 && i.expiry <= NOW])).toEqual([["gone", true], ["old", true], ["kept", false]]);
  });
});

describe("Kestrel's record layouts", () => {
  test("CONTINUE is the xid, then a block as ADDX's", () => {
    const bytes = new KestrelJournalBuilder().continueXid(0x01020304, "d", 1, 2).build();
    expect([...bytes.subarray(0, 9)]).toEqual([8, 4, 3, 2, 1, 17, 0, 0, 0]);
    expect(bytes.length).toBe(9 + 17);
  });

  test("a torn CONTINUE or REMOVE_TENTATIVE_XID ends the file there", () => {
    for (const journal of [queued("a").continueXid(1, "cut"), queued("a").removeTentativeXid(2)]) {
      const bytes = journal.build();
      const outcome = replayJournal(bytes.subarray(0, bytes.length - 1), NOW);
      expect(outcome.items.map((i) => text(i.data))).toEqual(["a"]);
      expect(outcome.damage[0]?.reason).toMatch(/^torn (or impossible )?(CONTINUE|REMOVE_TENTATIVE_XID) at offset 22$/);
    }
  });
});
