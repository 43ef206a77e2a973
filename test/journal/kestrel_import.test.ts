import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { encodeFileHeader, hasFileHeader } from "../../src/journal/record.ts";
import { text } from "../helpers/bytes.ts";
import { FaultInjector, type FaultOp } from "../helpers/faulty_fs.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { KESTREL_2_4 } from "../helpers/kestrel_fixtures.ts";
import { KestrelJournalBuilder, writeKestrelFiles } from "../helpers/kestrel_journal.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const { queue, files, expected } = KESTREL_2_4;

/** Opens the queue as start-up does; returns its items' data, the journal closed again. */
function served(dir: string): string[] {
  const opened = openQueueJournal(dir, queue);
  opened.journal.close();
  return opened.items.map((item) => text(item.data));
}

/** The queue's files in queue_path and in imported/ (sorted names). */
function layout(dir: string): { here: string[]; imported: string[] } {
  const here = readdirSync(dir).filter((name) => name.startsWith(queue)).sort();
  const imported = readdirSync(dir).includes("imported") ? readdirSync(join(dir, "imported")).sort() : [];
  return { here, imported };
}

/** The state a failed or finished import may leave: every original in place, or our journal with them all in imported/. */
function expectOneOrTheOther(dir: string): void {
  const { here } = layout(dir);
  if (hasFileHeader(readFileSync(join(dir, queue)))) {
    for (const [name, bytes] of Object.entries(files)) expect(readFileSync(join(dir, "imported", name))).toEqual(Buffer.from(bytes));
  } else {
    expect(here).toEqual(Object.keys(files).sort());
    for (const [name, bytes] of Object.entries(files)) expect(readFileSync(join(dir, name))).toEqual(Buffer.from(bytes));
  }
}

let faults: FaultInjector | null = null;
afterEach(() => {
  faults?.uninstall();
  faults = null;
});

describe("importing a Kestrel journal at open", () => {
  test("converts it once: our journal in place, the originals in imported/, nothing else left", () => {
    const dir = tempDir();
    writeKestrelFiles(dir, files);
    expect(served(dir)).toEqual([...expected]);
    expect(layout(dir)).toEqual({ here: [queue], imported: Object.keys(files).sort() });
    const converted = statSync(join(dir, queue)).ino;
    expect(served(dir)).toEqual([...expected]);
    expect(statSync(join(dir, queue)).ino).toBe(converted);
  });

  test("damage ends its file's replay, the next file is read; the cut bytes are quarantined, the original kept whole", () => {
    const dir = tempDir();
    const torn = new KestrelJournalBuilder().addx("a").addx("b").build();
    writeKestrelFiles(dir, { "q.1700000000000": torn.subarray(0, torn.length - 1), q: new KestrelJournalBuilder().addx("c").build() });
    const opened = openQueueJournal(dir, "q");
    opened.journal.close();
    expect(opened.items.map((item) => text(item.data))).toEqual(["a", "c"]);
    expect(readdirSync(join(dir, ".kestrel", "quarantine"))).toEqual([expect.stringMatching(/^q\..*\.22-43\.bad$/)]);
    expect(readFileSync(join(dir, "imported", "q.1700000000000"))).toEqual(Buffer.from(torn.subarray(0, torn.length - 1)));
  });

  test("a file of this format among Kestrel's stops the import, changing nothing", () => {
    const dir = tempDir();
    writeKestrelFiles(dir, { ...files, [`${queue}.1700000005000`]: encodeFileHeader() });
    expect(() => served(dir)).toThrow(`${join(dir, `${queue}.1700000005000`)} is a file of this server's format among Kestrel's; not imported`);
    expect(layout(dir)).toEqual({ here: [...Object.keys(files), `${queue}.1700000005000`].sort(), imported: [] });
  });

  // Every file-system call of a clean import, failed in turn: each leaves the originals in place
  // or our journal complete, and opening again without the fault serves the same queue.
  const OPS: FaultOp[] = ["open", "writev", "fsync", "mkdir", "link", "rename", "remove", "readFile", "stat"];
  for (const op of OPS) {
    test(`a failing ${op} at any step leaves the originals or our journal, and the next open finishes`, () => {
      const counting = tempDir();
      writeKestrelFiles(counting, files);
      faults = FaultInjector.install();
      faults.set([{ op, code: "EIO", path: counting, after: Infinity }]);
      served(counting);
      const calls = faults.calls[0]!;
      for (let k = 0; k < calls; k++) {
        const dir = tempDir();
        writeKestrelFiles(dir, files);
        faults.set([{ op, code: "EIO", path: dir, after: k, times: 1 }]);
        let first: string[] | null = null;
        try {
          first = served(dir);
        } catch {
          // The open failed: checked below.
        }
        faults.clear();
        expectOneOrTheOther(dir);
        if (first !== null) expect(first).toEqual([...expected]);
        expect(served(dir)).toEqual([...expected]);
        expect(layout(dir)).toEqual({ here: [queue], imported: Object.keys(files).sort() });
      }
    });
  }
});
