/**
 * Damages journals in every way we know (torn tails, flipped bits, bad lengths, zeroed and random
 * regions, garbage tails, truncations) and checks what recovery promises: opening never fails, no
 * damaged byte becomes an item, every item whose ADD lies before the first damage and that the
 * journal never removed is still there, every removal before the first damage still holds, the
 * repaired file is clean, and the cut bytes are in quarantine exactly. KESTREL_CORRUPTION_CASES raises the number of random cases (default 1200).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Item } from "../../src/journal/item.ts";
import { openQueueJournal } from "../helpers/journal.ts";
import { encodeAdd, encodeFileHeader, encodeIdRecord, OP_ABORT, OP_OPEN, OP_REMOVE } from "../../src/journal/record.ts";
import { replayJournal } from "../helpers/replay.ts";
import { concat, seededRandom } from "../helpers/bytes.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const CASES = Number(process.env.KESTREL_CORRUPTION_CASES ?? 1200);

interface Reference {
  readonly file: Uint8Array;
  /** Every item ever added, by id. */
  readonly added: Map<number, Item>;
  /** Offset just past each item's ADD record, by id. */
  readonly addEnd: Map<number, number>;
  /** Ids live (queued or open) at the end of the undamaged file. */
  readonly live: Set<number>;
  /** Offset just past the REMOVE record of each removed item, by id. */
  readonly removeEnd: Map<number, number>;
}

/** A journal with adds, removes, opens and aborts, items of varied sizes and binary content. */
function buildReference(seed: number): Reference {
  const random = seededRandom(seed);
  const parts: Uint8Array[] = [encodeFileHeader()];
  let size = parts[0]!.length;
  const added = new Map<number, Item>();
  const addEnd = new Map<number, number>();
  const removeEnd = new Map<number, number>();
  const queued: number[] = [];
  const open: number[] = [];
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    size += bytes.length;
  };
  for (let id = 1; id <= 60; id++) {
    const data = new Uint8Array(1 + Math.floor(random() * (id % 10 === 0 ? 3000 : 80))).map(() => Math.floor(random() * 256));
    const item = { id, addTime: 1_795_000_000_000 + id, expiry: 0, flags: id * 3, data };
    push(concat(...encodeAdd(item)));
    added.set(id, item);
    addEnd.set(id, size);
    queued.push(id);
    const remove = (gone: number) => {
      push(encodeIdRecord(OP_REMOVE, gone));
      removeEnd.set(gone, size);
    };
    const r = random();
    if (r < 0.25 && queued.length > 0) remove(queued.shift()!);
    else if (r < 0.4 && queued.length > 0) {
      const taken = queued.shift()!;
      push(encodeIdRecord(OP_OPEN, taken));
      open.push(taken);
    } else if (r < 0.5 && open.length > 0) {
      const back = open.shift()!;
      push(encodeIdRecord(OP_ABORT, back));
      queued.unshift(back);
    } else if (r < 0.6 && open.length > 0) {
      remove(open.shift()!);
    }
  }
  return { file: concat(...parts), added, addEnd, removeEnd, live: new Set([...queued, ...open]) };
}

/** Writes `damaged` as queue q's journal, opens it, and checks every recovery promise. */
function checkRecovery(reference: Reference, damaged: Uint8Array, firstDamage: number, label: string): void {
  const dir = tempDir();
  writeFileSync(join(dir, "q"), damaged);
  let opened;
  try {
    opened = openQueueJournal(dir);
  } catch (error) {
    throw new Error(`${label}: opening failed: ${error}`);
  }
  opened.journal.close();
  const items = opened.items;

  // No garbage: every item is one that was added, byte for byte, and none appears twice.
  const seen = new Set<number>();
  for (const item of items) {
    const original = reference.added.get(item.id);
    if (original === undefined || Buffer.compare(original.data, item.data) !== 0) throw new Error(`${label}: invented item ${item.id}`);
    if (seen.has(item.id)) throw new Error(`${label}: item ${item.id} twice`);
    seen.add(item.id);
  }
  // Every live item whose ADD is wholly before the first damaged byte survived.
  for (const id of reference.live) {
    if (reference.addEnd.get(id)! <= firstDamage && !seen.has(id)) throw new Error(`${label}: lost item ${id} (its ADD ends at ${reference.addEnd.get(id)}, damage at ${firstDamage})`);
  }
  // Every removal recorded wholly before the first damaged byte still holds.
  for (const [id, end] of reference.removeEnd) {
    if (end <= firstDamage && seen.has(id)) throw new Error(`${label}: item ${id} came back though its REMOVE ends at ${end}, before the damage at ${firstDamage}`);
  }
  // The repaired file replays clean to the same items.
  const repaired = replayJournal(readFileSync(join(dir, "q")), Date.now());
  if (repaired.damage.length > 0) throw new Error(`${label}: repaired file still damaged: ${JSON.stringify(repaired.damage)}`);
  expect(repaired.items.map((item) => item.id)).toEqual(items.map((item) => item.id));

  // Quarantine holds exactly the bytes that were cut, named by their offsets.
  const quarantineDir = join(dir, ".kestrel", "quarantine");
  const outcome = replayJournal(damaged, Date.now());
  const files = existsSync(quarantineDir) ? readdirSync(quarantineDir).sort() : [];
  expect(files.length).toBe(outcome.damage.length);
  for (const range of outcome.damage) {
    const name = files.find((file) => file.endsWith(`.${range.start}-${range.end}.bad`));
    if (name === undefined) throw new Error(`${label}: no quarantine file for ${range.start}-${range.end}`);
    expect(Buffer.compare(readFileSync(join(quarantineDir, name)), damaged.subarray(range.start, range.end))).toBe(0);
  }
  rmSync(dir, { recursive: true, force: true });
}

describe("recovery from damaged journals", () => {
  const reference = buildReference(1);
  const file = reference.file;
  const recordStarts = [...reference.addEnd.values()];
  const middle = recordStarts[25]!;

  test("the undamaged reference replays exactly", () => {
    const outcome = replayJournal(file, Date.now());
    expect(outcome.damage).toEqual([]);
    expect(new Set(outcome.items.map((item) => item.id))).toEqual(reference.live);
  });

  test("a torn tail (every cut point inside the last records)", () => {
    for (let cut = file.length - 1; cut > file.length - 400; cut--) checkRecovery(reference, file.subarray(0, cut), cut, `cut at ${cut}`);
  });

  test("a flipped bit in a record in the middle", () => {
    for (let bit = 0; bit < 8 * 60; bit += 7) {
      const damaged = file.slice();
      damaged[middle + (bit >> 3)]! ^= 1 << (bit & 7);
      checkRecovery(reference, damaged, middle + (bit >> 3), `bit ${bit} after ${middle}`);
    }
  });

  test("an unknown opcode and impossible lengths", () => {
    const opcode = file.slice();
    opcode[middle + 5] = 99;
    checkRecovery(reference, opcode, middle, "unknown opcode");
    for (const length of [0, 7, 0xffffffff, file.length]) {
      const damaged = file.slice();
      new DataView(damaged.buffer).setUint32(middle + 6, length, true);
      checkRecovery(reference, damaged, middle, `length ${length}`);
    }
  });

  test("zero-filled and random regions, alone and several at once", () => {
    const random = seededRandom(5);
    for (const [start, length] of [[middle, 100], [16, 50], [recordStarts[10]!, 2000], [file.length - 300, 300]] as const) {
      const zeroed = file.slice();
      zeroed.fill(0, start, start + length);
      checkRecovery(reference, zeroed, start, `zeros at ${start}+${length}`);
      const noise = file.slice();
      for (let i = start; i < Math.min(file.length, start + length); i++) noise[i] = Math.floor(random() * 256);
      checkRecovery(reference, noise, start, `noise at ${start}+${length}`);
    }
    const several = file.slice();
    several.fill(0, recordStarts[5]!, recordStarts[5]! + 40);
    several.fill(0xa7, recordStarts[30]!, recordStarts[30]! + 40);
    checkRecovery(reference, several, recordStarts[5]!, "two damaged regions");
  });

  test("a damaged file header", () => {
    for (const at of [0, 3, 8, 12, 15]) {
      const damaged = file.slice();
      damaged[at]! ^= 0x55;
      checkRecovery(reference, damaged, at, `header byte ${at}`);
    }
  });

  test("a garbage tail after good records", () => {
    const random = seededRandom(9);
    for (let round = 0; round < 30; round++) {
      const garbage = new Uint8Array(1 + Math.floor(random() * 500)).map(() => Math.floor(random() * 256));
      checkRecovery(reference, concat(file, garbage), file.length, `garbage tail ${round}`);
    }
  });

  test(`${CASES} random flips, truncations and garbage tails`, () => {
    const random = seededRandom(1234);
    for (let round = 0; round < CASES; round++) {
      const kind = round % 3;
      const label = `random case ${round}`;
      if (kind === 0) {
        const damaged = file.slice();
        const flips = 1 + Math.floor(random() * 4);
        let first = file.length;
        for (let i = 0; i < flips; i++) {
          const at = Math.floor(random() * file.length);
          damaged[at]! ^= 1 + Math.floor(random() * 255);
          first = Math.min(first, at);
        }
        checkRecovery(reference, damaged, first, label);
      } else if (kind === 1) {
        const cut = Math.floor(random() * file.length);
        checkRecovery(reference, file.subarray(0, cut), cut, label);
      } else {
        const cut = Math.floor(random() * file.length);
        const garbage = new Uint8Array(Math.floor(random() * 300)).map(() => Math.floor(random() * 256));
        checkRecovery(reference, concat(file.subarray(0, cut), garbage), cut, label);
      }
    }
  }, 120_000);
});
