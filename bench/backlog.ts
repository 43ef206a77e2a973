/**
 * Backlog benchmark: Kestrel with a large queue that spills to disk (read-behind), and a restart
 * on its ~1 GB journal.
 *
 * What it measures (one queue `q`, 1024-byte items, max_memory_size = 16 MiB by default)
 *   1. Memory. The server's RSS (VmRSS from /proc/<pid>/status) and peak RSS (VmHWM) at idle (just
 *      started, empty), with the first step (100k) of items queued and with all of them (1M),
 *      each time with the queue's items, mem_items, mem_bytes and journal size (logsize) from
 *      `stats`, and the RSS again 3 s later (memory settles after a burst). The same after the
 *      restart and after draining the sample (3.).
 *   2. Set throughput while the backlog grows from 0 to 1M. 4 connections each write 100 sets at
 *      a time (one pipelined write) and wait for the 100 STOREDs before the next write; the sets/s
 *      of every successive 100k items is printed, with the CPU used by the server and by this load
 *      generator, so one can see whether it stays flat as the backlog grows (past 16 MiB, new
 *      items only go to the journal). The load pauses at the first checkpoint (1.), so the first
 *      step starts on an empty queue and the others continue from it.
 *   3. Restart on the ~1 GB journal: SIGTERM (time until the process exits), then a new server on
 *      the same data dir: time from spawn to its first log line and to `listening` (from the
 *      server's log timestamps, to the millisecond), and the replay line it logs
 *      (`replayed N MiB, R records in S s (X MiB/s, Y records/s)`); a first start on the empty dir is given for
 *      comparison. Then the first 1000 items are drained with pipelined gets and checked: every
 *      item is `<n>:` followed by a-z padding to 1024 bytes, byte for byte, and the items of
 *      each producer connection come back in the order it set them with none missing (connection
 *      k sends the batches k, k+4, k+8, ... of 100 consecutive numbers, so its next number is
 *      known); and `queue_q_items` must be 1M minus the sample.
 *   Anything unexpected (a count that does not match, a WARN/ERROR line in the server log, a bad
 *   exit) is listed under "Problems".
 *
 * Disk: the journal takes about items x 1 KB (1 GB for 1M items) under TMPDIR. The benchmark
 * prints what it needs and refuses to start with less than 2.5x that free. The temp dir is removed
 * at the end, on errors and on Ctrl-C.
 *
 * Run
 *   bun run bench:backlog
 *   BENCH_ITEMS=200000 BENCH_STEP=20000 bun bench/backlog.ts     # a quick run
 *
 * Environment
 *   BENCH_ITEMS        items to queue (default 1000000)
 *   BENCH_STEP         items per throughput row; also the first memory checkpoint (default 100000)
 *   BENCH_MEMORY       max_memory_size of the server, a byte count or a size as in the config (default "16MiB")
 *   BENCH_CONNECTIONS  producer connections (default 4)
 *   BENCH_BATCH        sets per pipelined write (default 100)
 *   BENCH_SAMPLE       items drained and checked after the restart (default 1000)
 *   BENCH_SERVER       a kestrel executable to measure, e.g. dist/kestrel (default: src/main.ts on this bun)
 *   TMPDIR             where the data dir goes (needs the space above)
 *
 * Output: markdown tables on stdout, progress on stderr.
 */
import { writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ReplyCollector, ReplyReader } from "../src/client/protocol.ts";
import { Mismatch, size } from "../src/config/values.ts";
import { converse, readStats } from "./lib/client.ts";
import { diskUsage, gb, requireFreeSpace } from "./lib/disk.ts";
import { KestrelChild, type Memory, serverCommand } from "./lib/kestrel_child.ts";
import { Pipeline, expectStored } from "./lib/pipeline.ts";
import { benchItem } from "./lib/protocol.ts";
import { MiB, integer, machine, mib, percent, secs, table } from "./lib/report.ts";
import { runBench } from "./lib/run_bench.ts";
import { type Startup, describeReplay } from "./lib/server_log.ts";
import { SettingsError, integerSetting } from "./lib/settings.ts";
import { ownCpuSeconds } from "./lib/cpu_time.ts";
import { makeTempDir, removeTempDir } from "./lib/targets.ts";

const QUEUE = "q";
const ITEM_SIZE = 1024;
/** Free space needed in TMPDIR, as a multiple of the item data. */
const DISK_MARGIN = 2.5;
/** Pause after a checkpoint before reading the RSS again. */
const SETTLE_MS = 3000;
/** A batch of sets (or the drain sample) unanswered this long fails the run. */
const REPLY_TIMEOUT_MS = 30_000;

interface Settings {
  readonly items: number;
  readonly step: number;
  /** BENCH_MEMORY as given ("16MiB" or a byte count), for the report. */
  readonly memory: string;
  /** max_memory_size in bytes, as the server's own config parser reads BENCH_MEMORY. */
  readonly memoryBytes: number;
  readonly connections: number;
  readonly batch: number;
  readonly sample: number;
  /** The command that runs the server, before its arguments. */
  readonly server: readonly string[];
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const positiveInteger = (name: string, fallback: number) => integerSetting(env, name, fallback, "a positive integer", 1);
  const items = positiveInteger("BENCH_ITEMS", 1_000_000);
  const step = Math.min(positiveInteger("BENCH_STEP", 100_000), items);
  const memory = (env.BENCH_MEMORY ?? "16MiB").trim();
  const connections = positiveInteger("BENCH_CONNECTIONS", 4);
  const batch = positiveInteger("BENCH_BATCH", 100);
  if (step % batch !== 0) throw new SettingsError(`BENCH_STEP (${step}) must be a multiple of BENCH_BATCH (${batch})`);
  const sample = Math.min(positiveInteger("BENCH_SAMPLE", 1000), items);
  return { items, step, memory, memoryBytes: memoryBytes(memory), connections, batch, sample, server: serverCommand(env.BENCH_SERVER) };
}

/** BENCH_MEMORY read as the server reads max_memory_size; digits alone are a byte count, as a TOML number would be. */
function memoryBytes(memory: string): number {
  const bytes = size(false)(/^\d+$/.test(memory) ? Number(memory) : memory);
  if (bytes instanceof Mismatch) throw new SettingsError(`BENCH_MEMORY: expected ${bytes.expected}, got "${memory}"`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const progress = (text: string): void => console.error(text);

// ---------------------------------------------------------------------------------------------
// Items: `<n>:` then a-z padding (byte i is 'a' + i % 26, as in `benchItem`) to ITEM_SIZE bytes

const PATTERN = benchItem(ITEM_SIZE);
/** Longer than any `<n>:` prefix: restoring this much of the pattern erases the previous one. */
const PATTERN_HEAD = PATTERN.subarray(0, 16);

function writeItem(target: Buffer, offset: number, n: number): void {
  target.set(PATTERN_HEAD, offset);
  target.write(`${n}:`, offset, "latin1");
}

function itemBytes(n: number): Buffer {
  const item = Buffer.from(PATTERN);
  writeItem(item, 0, n);
  return item;
}

/** The `<n>` of an item that is exactly `itemBytes(n)`, else null. */
function itemNumber(item: Buffer): number | null {
  const match = /^(\d+):/.exec(item.toString("latin1", 0, 16));
  if (match === null) return null;
  const n = Number(match[1]);
  return item.equals(itemBytes(n)) ? n : null;
}

/**
 * Which numbers each producer sets: batches of `batch` consecutive numbers, batch b going to
 * producer b % producers. So every producer's items, and their order, are known in advance.
 */
class Numbering {
  constructor(
    readonly producers: number,
    readonly batch: number,
  ) {}

  producerOf(n: number): number {
    return Math.floor(n / this.batch) % this.producers;
  }

  firstOf(producer: number): number {
    return producer * this.batch;
  }

  /** The number the producer of `n` sets after `n`. */
  nextAfter(n: number): number {
    return (n + 1) % this.batch !== 0 ? n + 1 : n + 1 + (this.producers - 1) * this.batch;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading: producers that pipeline batches of sets

interface Step {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
  /** Fractions of one core. */
  readonly serverCpu: number;
  readonly benchCpu: number;
  /** RSS when the step ended. */
  readonly rss: number;
}

/** Counts STOREDs across producers and closes a `Step` at every multiple of the step size (and at the end). */
class StepTracker {
  private stored: number;
  private stepStart: number;
  private nextBoundary: number;
  private startedAt = performance.now();
  private startCpu: { server: number; bench: number };

  constructor(
    private readonly server: KestrelChild,
    from: number,
    private readonly to: number,
    private readonly stepSize: number,
    private readonly onStep: (step: Step) => void,
  ) {
    this.stored = from;
    this.stepStart = from;
    this.nextBoundary = Math.min(from + stepSize, to);
    this.startCpu = { server: server.cpuSeconds(), bench: ownCpuSeconds() };
  }

  add(count: number): void {
    this.stored += count;
    while (this.stored >= this.nextBoundary) this.closeStep();
  }

  private closeStep(): void {
    const now = performance.now();
    const cpu = { server: this.server.cpuSeconds(), bench: ownCpuSeconds() };
    const seconds = (now - this.startedAt) / 1000;
    this.onStep({
      from: this.stepStart,
      to: this.nextBoundary,
      ms: now - this.startedAt,
      serverCpu: (cpu.server - this.startCpu.server) / seconds,
      benchCpu: (cpu.bench - this.startCpu.bench) / seconds,
      rss: this.server.memory().rss,
    });
    this.startedAt = now;
    this.startCpu = cpu;
    this.stepStart = this.nextBoundary;
    this.nextBoundary = this.nextBoundary >= this.to ? Infinity : Math.min(this.nextBoundary + this.stepSize, this.to);
  }
}

/** One connection: writes a batch of sets, waits for all its STOREDs, writes the next. */
class Producer {
  private readonly pipeline: Pipeline;
  private readonly header = Buffer.from(`set ${QUEUE} 0 0 ${ITEM_SIZE}\r\n`, "latin1");
  private readonly recordSize = this.header.length + ITEM_SIZE + 2;
  /** `batch` set requests, rewritten in place for every batch (only the item numbers change). */
  private readonly requests: Buffer;

  constructor(
    private readonly id: number,
    private readonly numbering: Numbering,
  ) {
    // Every reply should be STORED; a VALUE block (none is expected: an empty one) is reported as corrupt.
    this.pipeline = new Pipeline(`producer ${this.id}`, new Uint8Array(0), expectStored, REPLY_TIMEOUT_MS);
    const record = Buffer.concat([this.header, PATTERN, Buffer.from("\r\n")]);
    this.requests = Buffer.concat(Array.from({ length: numbering.batch }, () => record));
  }

  connect(port: number): Promise<void> {
    return this.pipeline.connect(port);
  }

  /** Sets this producer's items among the numbers [from, to). */
  async load(from: number, to: number, tracker: StepTracker): Promise<void> {
    const { batch, producers } = this.numbering;
    const firstBatch = Math.ceil(from / batch);
    let b = firstBatch + ((this.id - (firstBatch % producers) + producers) % producers);
    for (; b * batch < to; b += producers) {
      const count = Math.min(batch, to - b * batch);
      await this.sendBatch(b * batch, count);
      tracker.add(count);
    }
  }

  close(): void {
    this.pipeline.close();
  }

  private sendBatch(first: number, count: number): Promise<void> {
    for (let i = 0; i < count; i++) writeItem(this.requests, i * this.recordSize + this.header.length, first + i);
    return this.pipeline.send(this.requests.subarray(0, count * this.recordSize), count);
  }
}

/** Sets the items [from, to) with every producer connection; calls `onStep` at every step. */
async function load(server: KestrelChild, settings: Settings, from: number, to: number, onStep: (step: Step) => void): Promise<void> {
  const numbering = new Numbering(settings.connections, settings.batch);
  const producers = Array.from({ length: settings.connections }, (_, id) => new Producer(id, numbering));
  try {
    await Promise.all(producers.map((producer) => producer.connect(server.port)));
    const tracker = new StepTracker(server, from, to, settings.step, onStep);
    await Promise.all(producers.map((producer) => producer.load(from, to, tracker)));
  } finally {
    for (const producer of producers) producer.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Draining a sample: pipelined gets, every reply parsed and checked

/** Sends `count` gets in one write and returns the replies (null = the queue was empty). */
async function drainSample(port: number, count: number): Promise<Array<Buffer | null>> {
  const replies: Array<Buffer | null> = [];
  const reader = new ReplyReader();
  let collector = new ReplyCollector("values");
  const consume = (chunk: Buffer) => {
    reader.push(chunk);
    for (let element = reader.next(); element !== null; element = reader.next()) {
      const reply = collector.accept(element);
      if (reply === null) continue;
      collector = new ReplyCollector("values");
      if (reply.kind !== "values" || reply.values.length > 1) throw new Error(`unexpected reply to get: ${JSON.stringify(reply).slice(0, 200)}`);
      const value = reply.values[0];
      replies.push(value === undefined ? null : Buffer.from(value.data));
    }
    return replies.length >= count;
  };
  await converse(port, `get ${QUEUE}\r\n`.repeat(count), REPLY_TIMEOUT_MS, consume, `${count} gets`, () => `${replies.length} answered`);
  return replies;
}

/** Problems with the sample: malformed items, and items out of each producer's order (or missing). */
function checkSample(replies: ReadonlyArray<Buffer | null>, numbering: Numbering): string[] {
  const problems: string[] = [];
  const next = new Map(Array.from({ length: numbering.producers }, (_, p) => [p, numbering.firstOf(p)] as const));
  replies.forEach((item, i) => {
    if (item === null) return void problems.push(`get #${i + 1} found the queue empty`);
    const n = itemNumber(item);
    if (n === null) return void problems.push(`get #${i + 1} returned a malformed item (${item.length} bytes: ${JSON.stringify(item.toString("latin1", 0, 40))}...)`);
    const producer = numbering.producerOf(n);
    if (n !== next.get(producer)) problems.push(`get #${i + 1} returned item ${n}; producer ${producer}'s next item was ${next.get(producer)} (out of order, lost or duplicated)`);
    next.set(producer, numbering.nextAfter(n));
  });
  return problems.length > 10 ? [...problems.slice(0, 10), `... and ${problems.length - 10} more`] : problems;
}

// ---------------------------------------------------------------------------------------------
// Memory checkpoints

interface MemoryPoint {
  readonly label: string;
  readonly items: number;
  readonly memItems: number;
  readonly memBytes: number;
  readonly logsize: number;
  readonly now: Memory;
  readonly settledRss: number;
}

/** RSS and the queue's stats now, then the RSS again after SETTLE_MS; checks the item count. */
async function checkpoint(server: KestrelChild, label: string, expectedItems: number | null, problems: string[]): Promise<MemoryPoint> {
  const now = server.memory();
  const stats = await readStats(server.port);
  const stat = (name: string) => stats.get(`queue_${QUEUE}_${name}`) ?? NaN;
  const items = stat("items");
  if (expectedItems !== null && items !== expectedItems) problems.push(`${label}: queue_${QUEUE}_items is ${items}, expected ${expectedItems}`);
  await Bun.sleep(SETTLE_MS);
  const point = { label, items, memItems: stat("mem_items"), memBytes: stat("mem_bytes"), logsize: stat("logsize"), now, settledRss: server.memory().rss };
  progress(`  ${label}: RSS ${mib(now.rss)}, ${mib(point.settledRss)} ${SETTLE_MS / 1000} s later; items ${integer(items)}, in memory ${integer(point.memItems)} (${mib(point.memBytes)}), journal ${mib(point.logsize)}`);
  return point;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Restart {
  readonly disk: { bytes: number; files: number };
  readonly stopMs: number;
  readonly emptyStart: Startup;
  readonly start: Startup;
  readonly sampleMs: number;
  readonly sampleProblems: number;
  readonly itemsAfter: number;
}

interface Results {
  readonly settings: Settings;
  readonly memory: readonly MemoryPoint[];
  readonly steps: readonly Step[];
  readonly restart: Restart;
  readonly problems: readonly string[];
}

function machineLine(settings: Settings): string {
  return [
    `Machine: ${machine()}.`,
    `Load: ${integer(settings.items)} items of ${ITEM_SIZE} bytes in one queue (\`${QUEUE}\`), max_memory_size = ${settings.memory}, ` +
      `max_journal_size default; ${settings.connections} connections x ${settings.batch} pipelined sets per write; data dir under ${tmpdir()}.`,
    `Server: ${settings.server.join(" ")}.`,
  ].join("\n");
}

function memoryTable(points: readonly MemoryPoint[]): string {
  const header = ["point", "queue items", "mem_items", "mem_bytes", "journal (logsize)", "RSS", `RSS ${SETTLE_MS / 1000} s later`, "peak RSS (VmHWM)"];
  const rows = points.map((p) => [p.label, integer(p.items), integer(p.memItems), mib(p.memBytes), mib(p.logsize), mib(p.now.rss), mib(p.settledRss), mib(p.now.peak)]);
  return table(header, rows);
}

function throughputTable(steps: readonly Step[]): string {
  const header = ["items queued", "seconds", "sets/s", "MiB/s", "server CPU", "bench CPU", "RSS at the end"];
  const rows = steps.map((s) => {
    const rate = ((s.to - s.from) * 1000) / s.ms;
    return [`${integer(s.from)} → ${integer(s.to)}`, (s.ms / 1000).toFixed(2), integer(rate), ((rate * ITEM_SIZE) / MiB).toFixed(1), percent(s.serverCpu), percent(s.benchCpu), mib(s.rss)];
  });
  return table(header, rows);
}

function restartTable(settings: Settings, r: Restart): string {
  const start = (s: Startup) => `${secs(s.listeningMs)} (first log line at ${secs(s.firstLogMs)})`;
  const sampleVerdict = r.sampleProblems === 0 ? "all well-formed, each producer's items in order, none missing" : `${r.sampleProblems} problems (see below)`;
  const rows = [
    ["journal on disk", `${mib(r.disk.bytes)} in ${r.disk.files} files`],
    ["SIGTERM → exit", secs(r.stopMs)],
    ["spawn → listening, empty data dir", start(r.emptyStart)],
    [`spawn → listening, ${integer(settings.items)} items`, start(r.start)],
    ["replay (server log)", r.start.replay === null ? "(no replay line logged)" : describeReplay(r.start.replay)],
    [`drain the first ${integer(settings.sample)} items (pipelined gets)`, `${secs(r.sampleMs)}; ${sampleVerdict}`],
    [`queue_${QUEUE}_items after the sample`, `${integer(r.itemsAfter)} (expected ${integer(settings.items - settings.sample)})`],
  ];
  return table(["measure", "value"], rows);
}

function throughputNote(results: Results): string {
  const inMemory = results.memory.find((point) => Number.isFinite(point.memItems))?.memItems ?? NaN;
  return (
    `The first row starts on a freshly started server (JIT warm-up) and includes the items kept in memory ` +
    `(the first ${integer(inMemory)}, up to max_memory_size); after those, new items go only to the journal (read-behind). ` +
    `CPU is a percentage of one core; the load generator runs on the same ${cpus().length} cores as the server.`
  );
}

function report(results: Results): string {
  const { settings } = results;
  const problems = results.problems.length === 0 ? "None." : results.problems.map((p) => `- ${p}`).join("\n");
  return [
    `# Backlog: ${integer(settings.items)} queued items, read-behind and restart\n`,
    `${machineLine(settings)}\n`,
    `## Server memory\n`,
    `${memoryTable(results.memory)}\n`,
    `## Set throughput as the backlog grows\n`,
    `${throughputTable(results.steps)}\n`,
    `${throughputNote(results)}\n`,
    `## Restart\n`,
    `${restartTable(settings, results.restart)}\n`,
    `Times to listening are from the server's log timestamps (ms resolution) minus the spawn time; the replay line is the server's own.\n`,
    `## Problems\n`,
    problems,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

/** Loads [from, to), logging each step; returns the steps. */
async function loadRange(server: KestrelChild, settings: Settings, from: number, to: number): Promise<Step[]> {
  progress(`setting items ${integer(from)} to ${integer(to)}`);
  const steps: Step[] = [];
  await load(server, settings, from, to, (step) => {
    steps.push(step);
    progress(`  ${integer(step.from)} → ${integer(step.to)}: ${integer(((step.to - step.from) * 1000) / step.ms)} sets/s, RSS ${mib(step.rss)}`);
  });
  return steps;
}

/** Stops `server`, collecting its log's warnings and errors and any trouble stopping it. */
async function stopServer(server: KestrelChild, name: string, problems: string[]): Promise<number> {
  const stopped = await server.stop();
  for (const line of server.warningsAndErrors()) problems.push(`${name} server log: ${line}`);
  problems.push(...stopped.problems.map((problem) => `${name}: ${problem}`));
  progress(`stopped the ${name} server in ${secs(stopped.ms)}`);
  return stopped.ms;
}

/** Restarts on the same data dir, drains and checks the sample; returns the memory points and the restart's measures. */
async function restartAndDrain(
  root: string,
  dataDir: string,
  configPath: string,
  settings: Settings,
  problems: string[],
): Promise<{ points: MemoryPoint[] } & Pick<Restart, "start" | "sampleMs" | "sampleProblems" | "itemsAfter">> {
  progress(`restarting on the same data dir`);
  const server = await KestrelChild.start("kestrel (restart)", root, dataDir, configPath, settings.server);
  for (const line of server.logLines(/replayed/)) progress(`  server: ${line}`);
  progress(`  listening ${secs(server.startup.listeningMs)} after spawn`);
  const points = [await checkpoint(server, "after restart", settings.items, problems)];
  const began = performance.now();
  const replies = await drainSample(server.port, settings.sample);
  const sampleMs = performance.now() - began;
  const sampleProblems = checkSample(replies, new Numbering(settings.connections, settings.batch));
  problems.push(...sampleProblems.map((problem) => `sample: ${problem}`));
  progress(`  drained ${integer(replies.length)} items in ${secs(sampleMs)}; ${sampleProblems.length} problems`);
  const expectedAfter = settings.items - settings.sample;
  const drained = await checkpoint(server, `after draining ${integer(settings.sample)}`, expectedAfter, problems);
  points.push(drained);
  await stopServer(server, "restarted", problems);
  return { points, start: server.startup, sampleMs, sampleProblems: sampleProblems.length, itemsAfter: drained.items };
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const journal = settings.items * ITEM_SIZE;
  requireFreeSpace(tmpdir(), journal * DISK_MARGIN, `the journal takes about ${gb(journal)}`, "lower BENCH_ITEMS");
  const began = performance.now();
  const root = makeTempDir("kestrel-backlog-");
  const dataDir = join(root, "data");
  const configPath = join(root, "kestrel.toml");
  writeFileSync(configPath, `max_memory_size = ${settings.memoryBytes}\n`);
  const problems: string[] = [];

  const server = await KestrelChild.start("kestrel", root, dataDir, configPath, settings.server);
  progress(`kestrel listening on port ${server.port} (data in ${dataDir})`);
  const memoryPoints = [await checkpoint(server, "idle (empty)", null, problems)];
  const steps = await loadRange(server, settings, 0, settings.step);
  memoryPoints.push(await checkpoint(server, `${integer(settings.step)} items`, settings.step, problems));
  if (settings.items > settings.step) {
    steps.push(...(await loadRange(server, settings, settings.step, settings.items)));
    memoryPoints.push(await checkpoint(server, `${integer(settings.items)} items`, settings.items, problems));
  }
  const stopMs = await stopServer(server, "first", problems);
  const disk = diskUsage(dataDir);
  progress(`journal on disk: ${mib(disk.bytes)} in ${disk.files} files`);

  const { points, ...restarted } = await restartAndDrain(root, dataDir, configPath, settings, problems);
  removeTempDir(root);
  progress(`removed ${root}; done in ${secs(performance.now() - began)}`);

  const restart: Restart = { disk, stopMs, emptyStart: server.startup, ...restarted };
  console.log(report({ settings, memory: [...memoryPoints, ...points], steps, restart, problems }));
}

await runBench(main, "stopping the server and removing the data dir");
