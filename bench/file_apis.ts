/**
 * Bun's own file APIs against the node:fs calls the journal uses (src/journal/files.ts), on the
 * journal's own access patterns, in one temp dir (TMPDIR decides the file system):
 *
 *   append      a turn's batch of records (BATCH records of 1 KB items, one buffer, as
 *               record_batch.ts packs them) appended, TURNS times: fs.writevSync on an append-mode
 *               fd, against a FileSink on the same kind of fd (`Bun.file(fd).writer()`: it does
 *               not truncate) written and flushed per turn; then the same with an fsync per turn
 *               (sync_journal = "always"; a FileSink has no fsync: fs.fsyncSync on its fd).
 *   replay      a REPLAY_MIB file read whole: fs.readFileSync, `Bun.file().bytes()`, `Bun.mmap`
 *               (each byte looked at once, so the pages are really read).
 *   read-behind READS reads of 1 KB to 64 KB at random places: fs.readSync into one buffer,
 *               against `Bun.file().slice(a, b).bytes()`.
 *   rewrite     a REWRITE_MIB file written under a temp name, fsynced and renamed over the old
 *               one (replaceFileAtomically): fs.writeSync + fsyncSync, against Bun.write + fsyncSync.
 *
 * Each case runs ROUNDS times, alternating the two sides; printed: the median and range of the
 * time per operation, as a markdown table on stdout.
 *
 *   npm run bench:files               (env FILE_BENCH_ROUNDS, default 5)
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync, writevSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROUNDS = Number(process.env.FILE_BENCH_ROUNDS ?? 5);
const BATCH = 10;
const RECORD_BYTES = 1024 + 21;
const TURNS = 20_000;
const SYNCED_TURNS = 500;
const REPLAY_MIB = 64;
const READS = 20_000;
const REWRITE_MIB = 16;

const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "kestrel-file-apis-"));
const batch = new Uint8Array(BATCH * RECORD_BYTES).fill(7);
const APPEND = "a";

/** Runs `action` and returns the ms per operation (`count` of them). */
async function timed(count: number, action: () => unknown): Promise<number> {
  const start = performance.now();
  await action();
  return (performance.now() - start) / count;
}

function appendWithNodeFs(path: string, turns: number, sync: boolean): void {
  const fd = openSync(path, APPEND);
  for (let i = 0; i < turns; i++) {
    writevSync(fd, [batch]);
    if (sync) fsyncSync(fd);
  }
  closeSync(fd);
}

async function appendWithFileSink(path: string, turns: number, sync: boolean): Promise<void> {
  const fd = openSync(path, APPEND);
  const sink = Bun.file(fd).writer();
  for (let i = 0; i < turns; i++) {
    sink.write(batch);
    // A reply may leave only once its record is in the kernel: flush every turn, and wait if it is async.
    const flushed = sink.flush();
    if (typeof flushed !== "number") await flushed;
    if (sync) fsyncSync(fd);
  }
  await sink.end();
  closeSync(fd);
}

function lookAtEveryByte(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 512) sum += bytes[i]!;
  return sum;
}

const replayPath = join(dir, "replay");
const replayBytes = new Uint8Array(REPLAY_MIB * 1024 * 1024).fill(3);
await Bun.write(replayPath, replayBytes);
const positions = Array.from({ length: READS }, (_, i) => {
  const length = 1024 << (i % 7);
  return { position: Math.floor(Math.random() * (replayBytes.length - length)), length };
});

function readBehindWithNodeFs(): void {
  const fd = openSync(replayPath, "r");
  const buffer = new Uint8Array(64 * 1024);
  for (const { position, length } of positions) readSync(fd, buffer, 0, length, position);
  closeSync(fd);
}

async function readBehindWithBunFile(): Promise<void> {
  const file = Bun.file(replayPath);
  for (const { position, length } of positions) await file.slice(position, position + length).bytes();
}

const rewriteBytes = new Uint8Array(REWRITE_MIB * 1024 * 1024).fill(5);

function rewriteWithNodeFs(path: string): void {
  const fd = openSync(`${path}.tmp`, "w");
  for (let done = 0; done < rewriteBytes.length; ) done += writeSync(fd, rewriteBytes, done);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(`${path}.tmp`, path);
}

async function rewriteWithBunWrite(path: string): Promise<void> {
  await Bun.write(`${path}.tmp`, rewriteBytes);
  const fd = openSync(`${path}.tmp`, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(`${path}.tmp`, path);
}

interface Case {
  readonly name: string;
  readonly unit: string;
  readonly sides: readonly [string, () => Promise<number>][];
}

let fileNumber = 0;
const fresh = () => join(dir, `f${++fileNumber}`);
const cases: Case[] = [
  { name: "append, a turn's batch (10 KB)", unit: "us per turn", sides: [
    ["fs.writevSync", () => timed(TURNS, () => appendWithNodeFs(fresh(), TURNS, false))],
    ["FileSink write + flush", () => timed(TURNS, () => appendWithFileSink(fresh(), TURNS, false))],
  ] },
  { name: "append + fsync (always)", unit: "us per turn", sides: [
    ["fs.writevSync + fsyncSync", () => timed(SYNCED_TURNS, () => appendWithNodeFs(fresh(), SYNCED_TURNS, true))],
    ["FileSink + fsyncSync", () => timed(SYNCED_TURNS, () => appendWithFileSink(fresh(), SYNCED_TURNS, true))],
  ] },
  { name: `replay, ${REPLAY_MIB} MiB read whole`, unit: "ms per file", sides: [
    ["fs.readFileSync", () => timed(1, () => lookAtEveryByte(readFileSync(replayPath)))],
    ["Bun.file().bytes()", () => timed(1, async () => lookAtEveryByte(await Bun.file(replayPath).bytes()))],
    ["Bun.mmap", () => timed(1, () => lookAtEveryByte(Bun.mmap(replayPath)))],
  ] },
  { name: "read-behind, 1-64 KB at random places", unit: "us per read", sides: [
    ["fs.readSync", () => timed(READS, readBehindWithNodeFs)],
    ["Bun.file().slice().bytes()", () => timed(READS, readBehindWithBunFile)],
  ] },
  { name: `rewrite, ${REWRITE_MIB} MiB + fsync + rename`, unit: "ms per file", sides: [
    ["fs.writeSync + fsyncSync", () => timed(1, () => rewriteWithNodeFs(join(dir, "rewrite")))],
    ["Bun.write + fsyncSync", () => timed(1, () => rewriteWithBunWrite(join(dir, "rewrite")))],
  ] },
];

const scale = (unit: string) => (unit.startsWith("us") ? 1000 : 1);
const figure = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2));

try {
  console.log(`File APIs, ${ROUNDS} rounds alternating sides, in ${dir} (bun ${Bun.version}); median (min-max):\n`);
  console.log("| case | API | time |\n| --- | --- | ---: |");
  for (const { name, unit, sides } of cases) {
    const times = sides.map((): number[] => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < sides.length; i++) times[i]!.push((await sides[i]![1]()) * scale(unit));
      for (const entry of readdirSync(dir)) if (/^f\d+$/.test(entry)) rmSync(join(dir, entry));
    }
    for (let i = 0; i < sides.length; i++) {
      const sorted = times[i]!.toSorted((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      console.log(`| ${name} | ${sides[i]![0]} | ${figure(median)} (${figure(sorted[0]!)}-${figure(sorted.at(-1)!)}) ${unit} |`);
    }
    process.stderr.write(`${name}: done\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
