/**
 * The admin port's short memory: one sample a second, taken from the stats snapshot, of the
 * server's totals and of up to MAX_TRACKED_QUEUES queues, for the last HISTORY_SAMPLES samples
 * (15 minutes), served as /history.json for the dashboard's charts.
 *
 * Invariants: memory is bounded whatever the number of queues: the series live in Float64Arrays
 * of HISTORY_SAMPLES values, SERVER_SERIES of them for the server and QUEUE_SERIES for each
 * queue kept (MAX_TRACKED_QUEUES at most, chosen by tracked_queues.ts: about 2.9 MB when full);
 * besides those, the last counters and rates of every live queue (a few numbers each, as the
 * queue itself has), dropped when the queue goes. A sample never fails: it only reads numbers.
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
import { log } from "../../log.ts";
import { SlicedRound } from "../../queue/sliced_round.ts";
import type { QueueSnapshot, Snapshot } from "../snapshot.ts";
import { TrackedChoice, type QueueActivity } from "./tracked_queues.ts";

export const HISTORY_SAMPLES = 900;
export const SAMPLE_INTERVAL_MS = 1000;
export const MAX_TRACKED_QUEUES = 100;

const SERVER_SERIES = ["items", "bytes", "in_per_second", "out_per_second", "connections", "resident_bytes"] as const;
const QUEUE_SERIES = ["items", "bytes", "in_per_second", "out_per_second"] as const;

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

/** One queue's series: QUEUE_SERIES.length values per sample slot, from sample `since` on. */
interface QueueSeries {
  readonly values: Float64Array;
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
  /** Samples taken so far; sample n lives in slot n % capacity. */
  private count = 0;
  private lastMonotonicMs: number | null = null;
  private readonly times: Float64Array;
  private readonly server: Float64Array;
  /** Every live queue's counters, updated in place as a sample passes it (never read by toJson). */
  private readonly counters = new Map<string, QueueCounters>();
  private readonly tracked = new Map<string, QueueSeries>();
  /** The queues with traffic at the last sample and their rates (in, out), for `rates`. */
  private busy: readonly string[] = [];
  private rates: readonly number[] = [];

  constructor(
    private readonly capacity = HISTORY_SAMPLES,
    private readonly trackedLimit = MAX_TRACKED_QUEUES,
  ) {
    this.times = new Float64Array(capacity);
    this.server = new Float64Array(capacity * SERVER_SERIES.length);
  }

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

  /** The samples after sample number `after` (all of them for -1). */
  toJson(after: number): HistoryJson {
    const first = Math.max(after + 1, this.count - this.capacity, 0);
    const samples = range(first, this.count);
    const slots = samples.map((n) => n % this.capacity);
    const column = (values: Float64Array, width: number, index: number) => slots.map((slot) => values[slot * width + index]!);
    const server = Object.fromEntries(SERVER_SERIES.map((name, index) => [name, column(this.server, SERVER_SERIES.length, index)]));
    const queues = Object.fromEntries(
      [...this.tracked].map(([name, series]) => [
        name,
        Object.fromEntries(
          QUEUE_SERIES.map((field, index) => [field, samples.map((n) => (n < series.since ? null : series.values[(n % this.capacity) * QUEUE_SERIES.length + index]!))]),
        ),
      ]),
    );
    const rates: Record<string, [number, number]> = {};
    for (const [i, name] of this.busy.entries()) rates[name] = [this.rates[2 * i]!, this.rates[2 * i + 1]!];
    return {
      interval_ms: SAMPLE_INTERVAL_MS,
      samples: this.capacity,
      tracked_queues: this.trackedLimit,
      first,
      last: this.count - 1,
      times: column(this.times, 1, 0),
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
    const slot = this.count % this.capacity;
    this.times[slot] = sample.wallMs;
    this.writeServer(slot, sample);
    this.writeQueues(slot, sample.choice.finish());
    this.busy = sample.busy;
    this.rates = sample.rates;
    this.count++;
  }

  private writeServer(slot: number, sample: PendingSample): void {
    const stat = new Map(sample.snapshot.server);
    // Whole counts summed, then divided once: the same whatever order the queues come in.
    const inPerSecond = sample.seconds === 0 ? 0 : sample.added / sample.seconds;
    const outPerSecond = sample.seconds === 0 ? 0 : sample.left / sample.seconds;
    const values = [stat.get("curr_items"), stat.get("bytes"), inPerSecond, outPerSecond, stat.get("curr_connections"), stat.get("resident_bytes")];
    for (const [index, value] of values.entries()) this.server[slot * SERVER_SERIES.length + index] = round(Number(value));
  }

  /** Keeps series for `chosen` (in the order given) and drops the others'. */
  private writeQueues(slot: number, chosen: readonly QueueCounters[]): void {
    const names = new Set(chosen.map((queue) => queue.name));
    for (const name of this.tracked.keys()) if (!names.has(name)) this.tracked.delete(name);
    for (const queue of chosen) {
      let series = this.tracked.get(queue.name);
      if (series === undefined) {
        series = { values: new Float64Array(this.capacity * QUEUE_SERIES.length), since: this.count };
        this.tracked.set(queue.name, series);
      }
      const values = [queue.items, queue.bytes, queue.inPerSecond, queue.outPerSecond];
      for (const [index, value] of values.entries()) series.values[slot * QUEUE_SERIES.length + index] = round(value);
    }
  }
}

/**
 * Records a sample into `history` every SAMPLE_INTERVAL_MS. `sample` gathers a snapshot (over
 * several turns when there are many queues) and hands it to its callback, or the error that stopped
 * it; it returns how to stop it early. The snapshot is then recorded over turns too. A sample
 * still being gathered or recorded when the next is due makes that one wait for the following
 * interval. A sample that fails (a bug) stops the sampling with one log line, not the server.
 * Returns the function that stops the sampling, and the sample under way.
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
  const timer = setInterval(() => {
    if (stage !== "idle") return;
    stage = "gathering";
    const stopGathering = sample(gathered);
    // A snapshot handed over at once is being recorded already: its stop is the one to keep.
    if (stage === "gathering") stopStep = stopGathering;
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
