/**
 * The admin port's short memory: one sample a second, taken from the stats snapshot, of the
 * server's totals and of up to MAX_TRACKED_QUEUES queues, for the last HISTORY_SAMPLES samples
 * (15 minutes), served as /history.json for the dashboard's charts (written by history_body.ts).
 *
 * Invariants: memory is bounded whatever the number of queues: the samples live in blocks of
 * BLOCK_SAMPLES, each block's series in Float64Arrays: SERVER_SERIES for the server, and
 * QUEUE_SERIES for each column of queue series, a column per queue kept (MAX_TRACKED_QUEUES at
 * most, chosen by tracked_queues.ts; a column a queue lets go is taken by the next queue kept):
 * about 3.1 MB when full, the last `capacity` samples and the block being filled. Besides those,
 * the last counters and rates of every live queue (a few numbers each, as the queue itself has),
 * dropped when the queue goes. A sample never fails: it only reads numbers.
 *
 * A sample's values are written before it shows and never after: a slot is written once, a block
 * the history lets go is left as it is, and `busy`/`rates` are replaced, never changed. So a
 * reply (`view`) holds what it sends without a copy, and sends one moment of the history whatever
 * is recorded while it is being sent: the blocks it reads, and the columns and first samples of
 * the queues kept at that moment (a column taken by another queue since holds the new queue's
 * values only in later slots).
 *
 * A sample is recorded over turns, about 2 ms a turn (`recordInTurns`; in one turn, 100,000 queues
 * held the loop for 50-150 ms): one pass over the snapshot's queues updates each one's counters,
 * adds its part to the server's rates and gives it its turn in the choice of queues kept; a sweep
 * over the counters drops those of gone queues, only when some are gone; a last step, O(queues
 * kept), writes the sample. Everything /history.json reads changes in that last step, so a reader
 * never sees half a sample. A recording stopped part-way leaves some counters updated: the next
 * sample then has nothing to compare with, and its rates are 0, as at the first.
 *
 * Rates are per second of monotonic time between samples; a counter that went down (a queue
 * deleted and made again) gives 0, never a negative rate. A queue's values before it was kept
 * are unknown (null), never made up.
 *
 * "in" counts items added (`total_items`); "out" counts items that left: taken (and, for an open
 * read, confirmed), expired, discarded or flushed, i.e. added minus the growth of items queued
 * and open.
 */
import { monotonicMs } from "../../clock.ts";
import { errorText } from "../../errors.ts";
import { runGuarded } from "../../guarded.ts";
import { log } from "../../log.ts";
import { SlicedRound } from "../../queue/sliced_round.ts";
import type { QueueSnapshot, Snapshot } from "../snapshot.ts";
import { TrackedChoice, type QueueActivity } from "./tracked_queues.ts";

export const HISTORY_SAMPLES = 900;
export const SAMPLE_INTERVAL_MS = 1000;
/** What a bug in starting a sample is logged as. */
const SAMPLING = "taking a history sample";
export const MAX_TRACKED_QUEUES = 100;
/** Samples a block holds (a history shorter than that has blocks of its own length). */
const BLOCK_SAMPLES = 60;

export const SERVER_SERIES = ["items", "bytes", "in_per_second", "out_per_second", "connections", "resident_bytes"] as const;
export const QUEUE_SERIES = ["items", "bytes", "in_per_second", "out_per_second"] as const;

/** What is remembered of each live queue between samples (and what tracked_queues.ts looks at). */
interface QueueCounters extends QueueActivity {
  items: number;
  bytes: number;
  traffic: number;
  /** total_items, and items queued or open, at the last sample. */
  added: number;
  held: number;
  inPerSecond: number;
  outPerSecond: number;
  /** The number of the last sample that passed the queue. */
  seen: number;
}

/** A sample being recorded: what its pass over the queues has gathered so far. */
interface PendingSample {
  readonly snapshot: Snapshot;
  /** Its number (the sample it will be). */
  readonly number: number;
  readonly wallMs: number;
  /** Seconds since the last sample, 0 if there is nothing to compare with. */
  readonly seconds: number;
  /** The queues passed that had traffic, and their rates rounded: in and out for each. */
  readonly busy: string[];
  readonly rates: number[];
  readonly choice: TrackedChoice<QueueCounters>;
  /** Queues passed, and items added and items that left since the last sample over them. */
  passed: number;
  added: number;
  left: number;
}

/**
 * Samples `first` on (the history's block size of them): `times`, then SERVER_SERIES.length
 * values per sample, and QUEUE_SERIES.length per sample in each column, made when first written.
 * A slot is written only before its sample shows.
 */
interface Block {
  readonly first: number;
  readonly times: Float64Array;
  readonly server: Float64Array;
  readonly columns: Array<Float64Array | undefined>;
}

/** A queue kept: its series are in column `column` of the blocks, from sample `since` on. */
export interface QueueSeries {
  readonly name: string;
  readonly column: number;
  readonly since: number;
}

/** /history.json: series aligned with `times`; see docs/dashboard.md. */
export interface HistoryJson {
  readonly interval_ms: number;
  readonly samples: number;
  readonly tracked_queues: number;
  /** Number of the first sample returned and of the last one taken (-1 before any). */
  readonly first: number;
  readonly last: number;
  /** Wall-clock time of each sample, unix ms. */
  readonly times: number[];
  readonly server: Record<(typeof SERVER_SERIES)[number], number[]>;
  readonly queues: Record<string, Record<(typeof QUEUE_SERIES)[number], Array<number | null>>>;
  /** The rates of every queue with traffic at the last sample: [in, out] per second. */
  readonly rates: Record<string, [number, number]>;
}

export class History {
  /** Samples taken so far. */
  private count = 0;
  private lastMonotonicMs: number | null = null;
  /** The blocks holding the last `capacity` samples, oldest first, consecutive. */
  private readonly blocks: Block[] = [];
  /** Every live queue's counters, updated in place as a sample passes it (never read by a view). */
  private readonly counters = new Map<string, QueueCounters>();
  private readonly tracked = new Map<string, QueueSeries>();
  /** Columns let go by queues no longer kept, and the number of columns ever used. */
  private readonly freeColumns: number[] = [];
  private columns = 0;
  /** The queues with traffic at the last sample and their rates (in, out), for `rates`. */
  private busy: readonly string[] = [];
  private rates: readonly number[] = [];

  constructor(
    private readonly capacity = HISTORY_SAMPLES,
    private readonly trackedLimit = MAX_TRACKED_QUEUES,
    private readonly blockSamples = Math.min(BLOCK_SAMPLES, capacity),
  ) {}

  /**
   * Takes one sample of `snapshot`, taken at `wallMs` (unix ms) and `monotonicMs`, over turns:
   * `sliceMs` of queues a turn (all in this turn with `sliceMs` Infinity). `done`
   * gets null once the sample shows, or the error a queue's step threw (a bug: the sample is then
   * dropped). Returns how to stop it early (`done` is then never called). Starting one while
   * another runs is a bug: the two would update the same counters.
   */
  recordInTurns(snapshot: Snapshot, wallMs: number, monotonicMs: number, done: (error: Error | null) => void, sliceMs?: number): () => void {
    const sample = this.begin(snapshot, wallMs, monotonicMs);
    let failure: Error | null = null;
    const fail = (error: unknown) => (failure ??= asError(error));
    const pass = new SlicedRound<QueueSnapshot>((queue) => this.pass(sample, queue), fail, sliceMs);
    const sweep = new SlicedRound<QueueCounters>((counters) => this.dropIfGone(sample, counters), fail, sliceMs);
    let finished = false;
    const end = () => {
      finished = true;
      try {
        if (failure === null) this.finish(sample);
      } catch (error) {
        failure = asError(error);
      }
      if (failure !== null) this.lastMonotonicMs = null;
      done(failure);
    };
    // Queues gone since the last sample are looked for only when there are some.
    pass.start(snapshot.queues, () => (this.counters.size > sample.passed ? sweep.start(this.counters.values(), end) : end()));
    return () => {
      pass.stop();
      sweep.stop();
      if (!finished) this.lastMonotonicMs = null;
    };
  }

  /**
   * What a reply sends of the samples after sample number `after` (all of them for -1): this
   * moment's, whatever is recorded while the reply is being sent.
   */
  view(after: number): HistoryView {
    const first = Math.max(after + 1, this.count - this.capacity, 0);
    const last = this.count - 1;
    const blocks = first > last ? [] : this.blocks.filter((block) => block.first + this.blockSamples > first);
    return new HistoryView(this.capacity, this.trackedLimit, first, last, blocks, this.blockSamples, inKeyOrder([...this.tracked.values()]), this.busy, this.rates);
  }

  /** The samples after sample number `after` as one object (the shape history_body.ts writes). */
  toJson(after: number): HistoryJson {
    const view = this.view(after);
    const samples = range(view.first, view.last + 1);
    const server = Object.fromEntries(SERVER_SERIES.map((name, index) => [name, samples.map((n) => view.server(n, index))]));
    const queueSeries = (queue: QueueSeries) => Object.fromEntries(QUEUE_SERIES.map((field, index) => [field, samples.map((n) => view.queue(queue, n, index))]));
    const queues = Object.fromEntries(view.queues.map((queue) => [queue.name, queueSeries(queue)]));
    const rates = Object.fromEntries(view.busy.map((name, i): [string, [number, number]] => [name, [view.rates[2 * i]!, view.rates[2 * i + 1]!]]));
    return {
      interval_ms: SAMPLE_INTERVAL_MS,
      samples: this.capacity,
      tracked_queues: this.trackedLimit,
      first: view.first,
      last: view.last,
      times: samples.map((n) => view.time(n)),
      server: server as HistoryJson["server"],
      queues: queues as HistoryJson["queues"],
      rates,
    };
  }

  private begin(snapshot: Snapshot, wallMs: number, monotonicMs: number): PendingSample {
    const seconds = this.lastMonotonicMs === null ? 0 : Math.max(monotonicMs - this.lastMonotonicMs, 1) / 1000;
    this.lastMonotonicMs = monotonicMs;
    const choice = new TrackedChoice<QueueCounters>(new Set(this.tracked.keys()), this.trackedLimit);
    return { snapshot, number: this.count, wallMs, seconds, busy: [], rates: [], choice, passed: 0, added: 0, left: 0 };
  }

  /**
   * One queue's step: its counters and rates (0 at the first sample: there is nothing to compare
   * with), its part of the server's rates, and its turn in the choice of queues kept.
   */
  private pass(sample: PendingSample, queue: QueueSnapshot): void {
    const { name, stats } = queue;
    const seconds = sample.seconds;
    let counters = this.counters.get(name);
    if (counters === undefined) {
      counters = { name, items: 0, bytes: 0, traffic: 0, added: 0, held: 0, inPerSecond: 0, outPerSecond: 0, seen: 0 };
      this.counters.set(name, counters);
    }
    // A counter that went down belongs to a queue made again: all it counts happened since.
    if (counters.added > stats.totalItems) counters.added = counters.held = 0;
    const held = stats.items + stats.openTransactions;
    const added = stats.totalItems - counters.added;
    const left = Math.max(0, added - (held - counters.held));
    counters.items = stats.items;
    counters.bytes = stats.bytes;
    counters.added = stats.totalItems;
    counters.held = held;
    counters.inPerSecond = seconds === 0 ? 0 : added / seconds;
    counters.outPerSecond = seconds === 0 ? 0 : left / seconds;
    counters.traffic = counters.inPerSecond + counters.outPerSecond;
    counters.seen = sample.number;
    if (counters.traffic > 0) {
      sample.busy.push(name);
      sample.rates.push(round(counters.inPerSecond), round(counters.outPerSecond));
    }
    sample.passed++;
    sample.added += added;
    sample.left += left;
    sample.choice.add(counters);
  }

  /** Forgets a queue the sample did not pass: it is gone. */
  private dropIfGone(sample: PendingSample, counters: QueueCounters): void {
    if (counters.seen !== sample.number) this.counters.delete(counters.name);
  }

  /** Makes the sample show: the one step a reader can see, O(tracked queues). */
  private finish(sample: PendingSample): void {
    const block = this.blockOf(this.count);
    const slot = this.count - block.first;
    block.times[slot] = sample.wallMs;
    this.writeServer(block, slot, sample);
    this.writeQueues(block, slot, sample.choice.finish());
    this.busy = sample.busy;
    this.rates = sample.rates;
    this.count++;
    // Blocks wholly older than the last `capacity` samples are let go (a reply may still hold them).
    while (this.blocks[0]!.first + this.blockSamples <= this.count - this.capacity) this.blocks.shift();
  }

  /** The block sample `n` (the next to show) goes in, made when it is the first of its block. */
  private blockOf(n: number): Block {
    const last = this.blocks.at(-1);
    if (last !== undefined && n < last.first + this.blockSamples) return last;
    const size = this.blockSamples;
    const block: Block = { first: n, times: new Float64Array(size), server: new Float64Array(size * SERVER_SERIES.length), columns: [] };
    this.blocks.push(block);
    return block;
  }

  private writeServer(block: Block, slot: number, sample: PendingSample): void {
    const stat = new Map(sample.snapshot.server);
    // Whole counts summed, then divided once: the same whatever order the queues come in.
    const inPerSecond = sample.seconds === 0 ? 0 : sample.added / sample.seconds;
    const outPerSecond = sample.seconds === 0 ? 0 : sample.left / sample.seconds;
    const values = [stat.get("curr_items"), stat.get("bytes"), inPerSecond, outPerSecond, stat.get("curr_connections"), stat.get("resident_bytes")];
    for (const [index, value] of values.entries()) block.server[slot * SERVER_SERIES.length + index] = round(Number(value));
  }

  /** Keeps series for `chosen` (in the order given) and drops the others', their columns freed for newcomers. */
  private writeQueues(block: Block, slot: number, chosen: readonly QueueCounters[]): void {
    const names = new Set(chosen.map((queue) => queue.name));
    for (const [name, series] of this.tracked) {
      if (names.has(name)) continue;
      this.tracked.delete(name);
      this.freeColumns.push(series.column);
    }
    for (const queue of chosen) {
      let series = this.tracked.get(queue.name);
      if (series === undefined) {
        series = { name: queue.name, column: this.freeColumns.pop() ?? this.columns++, since: this.count };
        this.tracked.set(queue.name, series);
      }
      const column = (block.columns[series.column] ??= new Float64Array(this.blockSamples * QUEUE_SERIES.length));
      const values = [queue.items, queue.bytes, queue.inPerSecond, queue.outPerSecond];
      for (const [index, value] of values.entries()) column[slot * QUEUE_SERIES.length + index] = round(value);
    }
  }
}

/**
 * One moment of the history, as a reply sends it: samples `first` to `last` (none when `first`
 * is past `last`), the queues kept then (in the order a JavaScript object lists their names), and
 * the rates of the queues busy at the last sample. It reads only slots written before it was made,
 * which are never written again; it holds the blocks it reads, even once the history lets them go.
 */
export class HistoryView {
  constructor(
    readonly capacity: number,
    readonly trackedLimit: number,
    readonly first: number,
    readonly last: number,
    private readonly blocks: readonly Block[],
    private readonly blockSamples: number,
    readonly queues: readonly QueueSeries[],
    /** The queues with traffic at the last sample (in the snapshot's order), and their rates: in and out for each. */
    readonly busy: readonly string[],
    readonly rates: readonly number[],
  ) {}

  /** Wall-clock time of sample `n` (from `first` to `last`), unix ms. */
  time(n: number): number {
    const block = this.blockOf(n);
    return block.times[n - block.first]!;
  }

  /** Value `index` of SERVER_SERIES at sample `n`. */
  server(n: number, index: number): number {
    const block = this.blockOf(n);
    return block.server[(n - block.first) * SERVER_SERIES.length + index]!;
  }

  /** Value `index` of QUEUE_SERIES of `queue` (one of `queues`) at sample `n`; null before it was kept. */
  queue(queue: QueueSeries, n: number, index: number): number | null {
    if (n < queue.since) return null;
    const block = this.blockOf(n);
    // Kept from `since` to the view's moment, the queue wrote its column in every block since.
    return block.columns[queue.column]![(n - block.first) * QUEUE_SERIES.length + index]!;
  }

  private blockOf(n: number): Block {
    return this.blocks[Math.floor((n - this.blocks[0]!.first) / this.blockSamples)]!;
  }
}

/**
 * The length of `name` if a JavaScript object lists it among its array indices ("0" to
 * "4294967294", no leading zero): first, in numeric order, before the other names in the order
 * they were added. 0 for any other name.
 */
export function arrayIndexLength(name: string): number {
  const length = name.length;
  if (length === 0 || length > 10) return 0;
  const first = name.charCodeAt(0);
  if (first < 0x30 || first > 0x39 || (first === 0x30 && length > 1)) return 0;
  for (let i = 1; i < length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return 0;
  }
  return length < 10 || Number(name) <= 4294967294 ? length : 0;
}

/** Queues in the order a JavaScript object with their names as keys lists them. */
function inKeyOrder(queues: readonly QueueSeries[]): QueueSeries[] {
  const indices = queues.filter((queue) => arrayIndexLength(queue.name) > 0).sort((a, b) => Number(a.name) - Number(b.name));
  return [...indices, ...queues.filter((queue) => arrayIndexLength(queue.name) === 0)];
}

/**
 * Records a sample into `history` every SAMPLE_INTERVAL_MS. `sample` gathers a snapshot (over
 * several turns when there are many queues) and hands it to its callback, or the error that stopped
 * it; it returns how to stop it early. The snapshot is then recorded over turns too. A sample
 * still being gathered or recorded when the next is due makes that one wait for the following
 * interval. A sample that fails (a bug) stops the sampling with one log line, not the server;
 * so does one whose start throws (`internal error taking a history sample`), which would
 * otherwise have left the sampling waiting for a sample never taken, and reached main.ts's last
 * resort. Returns the function that stops the sampling, and the sample under way.
 */
export function startSampling(history: History, sample: (done: (result: Snapshot | Error) => void) => () => void): () => void {
  let stage: "idle" | "gathering" | "recording" = "idle";
  let stopStep = () => {};
  const recorded = (error: Error | null): void => {
    stage = "idle";
    if (error === null) return;
    clearInterval(timer);
    log.error(`admin HTTP: history sampling stopped by an internal error: ${errorText(error)}`);
  };
  const gathered = (result: Snapshot | Error): void => {
    if (result instanceof Error) return recorded(result);
    stage = "recording";
    stopStep = history.recordInTurns(result, Date.now(), monotonicMs(), recorded);
  };
  /** Starts the sample that is due, unless one is under way; true unless that throws. */
  const begin = (): boolean => {
    if (stage !== "idle") return true;
    stage = "gathering";
    const stopGathering = sample(gathered);
    // A snapshot handed over at once is being recorded already: its stop is the one to keep.
    if (stage === "gathering") stopStep = stopGathering;
    return true;
  };
  const timer = setInterval(() => {
    if (runGuarded(SAMPLING, begin, false)) return;
    clearInterval(timer);
    stopStep();
  }, SAMPLE_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    stopStep();
  };
}

/** Rates to two decimals (whole counts stay whole): enough for a chart, and short JSON. */
function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
