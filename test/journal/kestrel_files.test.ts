import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kestrelJournalOf, replayOrder } from "../../src/journal/kestrel_files.ts";
import { encodeFileHeader } from "../../src/journal/record.ts";
import { listJournalFiles } from "../../src/journal/segment_files.ts";
import { KestrelJournalBuilder } from "../helpers/kestrel_journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NOW = 1_795_000_000_000;

describe("replayOrder: the files Kestrel 2.4 replays, in its order", () => {
  test("rotated files by timestamp as a number, then the current file; temp files never", () => {
    expect(replayOrder("q", ["q", "q.1000", "q.999", "q~~1500", "q.20000000000000000001"])).toEqual(["q.999", "q.1000", "q.20000000000000000001", "q"]);
  });

  test("a pack replaces the rotated files up to its timestamp and is replayed in their place", () => {
    expect(replayOrder("q", ["q.100", "q.200", "q.200.pack", "q.300", "q"])).toEqual(["q.200.pack", "q.300", "q"]);
  });

  test("packs are applied lowest first: the newest counts", () => {
    expect(replayOrder("q", ["q.100.pack", "q.150", "q.200.pack", "q.250"])).toEqual(["q.200.pack", "q.250"]);
  });

  test("an older pack is still replayed when a newer rotated file follows it", () => {
    expect(replayOrder("q", ["q.50", "q.100.pack", "q.150"])).toEqual(["q.100.pack", "q.150"]);
  });
});

describe("kestrelJournalOf: whose journal the files are", () => {
  const kestrel = new KestrelJournalBuilder().addx("a").build();
  const open = (dir: string) => {
    const files = listJournalFiles(dir).queues.get("q")!;
    const active = files.hasActive ? new Uint8Array(readFileSync(join(dir, "q"))) : null;
    return kestrelJournalOf(dir, "q", files, active, NOW);
  };

  test("Kestrel's files, listed by name, the replayed ones in order", () => {
    const dir = tempDir();
    for (const name of ["q", "q.1700000000000", "q.1700000000000.pack", "q.1700000001000", "q~~1700000002000"]) writeFileSync(join(dir, name), kestrel);
    expect(open(dir)).toEqual({
      files: ["q", "q.1700000000000", "q.1700000000000.pack", "q.1700000001000", "q~~1700000002000"],
      replayed: ["q.1700000000000.pack", "q.1700000001000", "q"],
    });
  });

  test("rotated files without a current file are a Kestrel journal; a 10-digit name is one when it is not ours", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q.1700000000"), kestrel);
    writeFileSync(join(dir, "q.1700000001000"), kestrel);
    expect(open(dir)?.replayed).toEqual(["q.1700000000", "q.1700000001000"]);
  });

  test("ours: a current file with our header, or a segment of ours beside an empty or missing current file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q"), encodeFileHeader());
    writeFileSync(join(dir, "q.1700000001000"), kestrel);
    expect(open(dir)).toBeNull();
    writeFileSync(join(dir, "q"), "");
    writeFileSync(join(dir, "q.0000000001"), encodeFileHeader());
    expect(open(dir)).toBeNull();
  });

  test("no files at all, or a directory where the current file would be, is no Kestrel journal", () => {
    const dir = tempDir();
    const none = { sealed: [], packs: [], hasActive: false, kestrel: [] };
    expect(kestrelJournalOf(dir, "q", none, null, NOW)).toBeNull();
    mkdirSync(join(dir, "q"));
    expect(kestrelJournalOf(dir, "q", none, null, NOW)).toBeNull();
  });

  test("an empty current file with only temp files beside it is an empty queue of ours", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "q"), "");
    writeFileSync(join(dir, "q~~1700000002000"), kestrel);
    expect(open(dir)).toBeNull();
  });
});
