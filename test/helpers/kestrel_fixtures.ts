/**
 * Hand-built journals of Scala Kestrel 1.2, 1.3 and 2.4, as each would leave them in its queue
 * directory, with the queue each would serve after a restart: the items' bytes in order, the
 * transactions open at the end back at the head (lowest xid first). The expected contents were
 * worked out by hand from Kestrel's replay rules (PersistentQueue.replayJournal and
 * Journal.replay in each version), record by record, in the comments.
 *
 * Invariants: every file is written by KestrelJournalBuilder as that version's writer writes it;
 * files Kestrel does not replay (temp files, rotated files a pack replaced) hold items that must
 * not appear, so reading one of them shows in the result.
 */
import { KestrelJournalBuilder } from "./kestrel_journal.ts";

export interface KestrelFixture {
  readonly version: string;
  readonly queue: string;
  /** File name in queue_path: contents. */
  readonly files: Readonly<Record<string, Uint8Array>>;
  /** The items Kestrel would serve, in order. */
  readonly expected: readonly string[];
}

const journal = () => new KestrelJournalBuilder();
/** 2100-01-01, in ms and in s. */
const FAR_MS = 4_102_444_800_000;
const FAR_S = 2_000_000_000;

/**
 * Kestrel 1.2: one file, rewritten ("rolled") while transactions 5 and 3 were open (the roll
 * writes them highest xid first, then the xid counter, then the queue), then used; and the temp
 * file of a roll that never finished.
 */
export const KESTREL_1_2: KestrelFixture = {
  version: "1.2",
  queue: "k12",
  files: {
    k12: journal()
      .addXid(5, "open-5").removeTentative() // open: open-5 (xid 1 in replay)
      .addXid(3, "open-3").removeTentative() // open: open-3 (2)
      .saveXid(6)
      .addx("p").addx("q") // [p, q]
      .addx("r").addx("s", 1_700_000_000_000, FAR_MS).add("t", FAR_S) // [p, q, r, s, t]
      .removeTentative() // p open (7)
      .removeTentative() // q open (8)
      .unremove(7) // [p, r, s, t]
      .remove() // [r, s, t]
      .confirmRemove(8) // q gone
      .removeTentative() // r open (9)
      .removeTentative() // s open (10)
      .confirmRemove(10) // s gone: [t]
      .addx("u") // [t, u]; open: open-5 (1), open-3 (2), r (9)
      .build(),
    "k12~~1262304000000": journal().addXid(5, "stale roll").removeTentative().saveXid(6).build(),
  },
  expected: ["open-5", "open-3", "r", "t", "u"],
};

/** Kestrel 1.3: a rolled file with CONTINUE records (one of a transaction that is not open), an expired item, a temp file. */
export const KESTREL_1_3: KestrelFixture = {
  version: "1.3",
  queue: "k13",
  files: {
    k13: journal()
      .addXid(2, "held-2").removeTentative() // open: held-2 (1)
      .saveXid(4)
      .addx("a").addx("b").addx("c") // [a, b, c]
      .removeTentative() // a open (5)
      .continueXid(5, "a, continued") // a gone: [b, c, a, continued]
      .removeTentative() // b open (6)
      .unremove(6) // [b, c, a, continued]
      .removeTentative() // b open (7)
      .confirmRemove(7) // b gone: [c, a, continued]
      .removeTentative() // c open (8): [a, continued]
      .addx("d") // [a, continued, d]
      .continueXid(99, "orphan") // no transaction 99: [a, continued, d, orphan]
      .addx("expired", 1_000_000_000_000, 1_000_000_000_001) // never served
      .build(), // open: held-2 (1), c (8)
    "k13~~1300000000000": journal().addx("half-written roll").build().subarray(0, 20),
  },
  expected: ["held-2", "c", "a, continued", "d", "orphan"],
};

/**
 * Kestrel 2.4, stopped in the middle of packing after a crash: two rotated files, the second the
 * checkpoint a pack replaced (both no longer replayed), the pack (transactions 12 and 10 open at
 * the checkpoint, written highest first, each an ADDX and a REMOVE_TENTATIVE_XID; then an item
 * opened since, a placeholder for a remove made since, the queue), a rotated file after it, the
 * current file, and the temp file of a pack being written.
 */
export const KESTREL_2_4: KestrelFixture = {
  version: "2.4",
  queue: "k24",
  files: {
    "k24.1700000001000": journal().addx("stale-1").addx("stale-2").removeTentativeXid(3).build(),
    "k24.1700000002000": journal().addx("stale-3").remove().build(),
    "k24.1700000002000.pack": journal()
      .addx("r-12").removeTentativeXid(12) // open: r-12
      .addx("r-10").removeTentativeXid(10) // open: r-10
      .addx("n-14") // [n-14]
      .addx("", 1_700_000_002_500) // a remove to come: [n-14, ""]
      .addx("q-1").addx("q-2", 1_700_000_002_600, FAR_MS) // [n-14, "", q-1, q-2]
      .build(),
    "k24.1700000003000": journal()
      .removeTentativeXid(14) // n-14 open: ["", q-1, q-2]
      .remove() // [q-1, q-2]
      .addx("q-3") // [q-1, q-2, q-3]
      .removeTentativeXid(15) // q-1 open: [q-2, q-3]
      .build(),
    k24: journal()
      .continueXid(15, "q-1, continued") // q-1 gone: [q-2, q-3, q-1, continued]
      .removeTentativeXid(16) // q-2 open
      .addx("q-4") // [q-3, q-1, continued, q-4]
      .unremove(16) // [q-2, q-3, q-1, continued, q-4]
      .removeTentativeXid(17) // q-2 open
      .confirmRemove(17) // q-2 gone
      .removeTentativeXid(18) // q-3 open: [q-1, continued, q-4]
      .build(), // open, in the order opened: r-12 (12), r-10 (10), n-14 (14), q-3 (18)
    "k24~~1700000004000": journal().addx("pack in progress").removeTentativeXid(12).build().subarray(0, 30),
  },
  expected: ["r-10", "r-12", "n-14", "q-3", "q-1, continued", "q-4"],
};

export const KESTREL_FIXTURES: readonly KestrelFixture[] = [KESTREL_1_2, KESTREL_1_3, KESTREL_2_4];
