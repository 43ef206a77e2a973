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
import type { QueueStats } from "../../queue/persistent_queue.ts";
import type { Snapshot } from "../snapshot.ts";
import { chooseTracked, type QueueActivity } from "./tracked_queues.ts";

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
  /** The sample that last saw the queue. */
  seen: number;
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
  private readonly counters = new Map<string, QueueCounters>();
  private readonly tracked = new Map<string, QueueSeries>();

  constructor(
    private readonly capacity = HISTORY_SAMPLES,
    private readonly trackedLimit = MAX_TRACKED_QUEUES,
  ) {
    this.times = new Float64Array(capacity);
    this.server = new Float64Array(capacity * SERVER_SERIES.length);
  }

  /** Takes one sample of `snapshot`, taken at `wallMs` (unix ms) and `monotonicMs`. Never throws. */
  record(snapshot: Snapshot, wallMs: number, monotonicMs: number): void {
    const seconds = this.lastMonotonicMs === null ? 0 : Math.max(monotonicMs - this.lastMonotonicMs, 1) / 1000;
    this.lastMonotonicMs = monotonicMs;
    const queues = snapshot.queues.map((queue) => this.updateCounters(queue.name, queue.stats, seconds));
    for (const [name, counters] of this.counters) if (counters.seen !== this.count) this.counters.delete(name);
    const slot = this.count % this.capacity;
    this.times[slot] = wallMs;
    this.writeServer(slot, snapshot);
    this.writeQueues(slot, queues);
    this.count++;
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
    for (const [name, c] of this.counters) if (c.inPerSecond > 0 || c.outPerSecond > 0) rates[name] = [round(c.inPerSecond), round(c.outPerSecond)];
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

  /** Updates one queue's counters and rates (0 at the first sample: there is nothing to compare with). */
  private updateCounters(name: string, stats: QueueStats, seconds: number): QueueCounters {
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
    counters.seen = this.count;
    return counters;
  }

  private writeServer(slot: number, snapshot: Snapshot): void {
    const stat = new Map(snapshot.server);
    let inPerSecond = 0;
    let outPerSecond = 0;
    for (const counters of this.counters.values()) {
      inPerSecond += counters.inPerSecond;
      outPerSecond += counters.outPerSecond;
    }
    const values = [stat.get("curr_items"), stat.get("bytes"), inPerSecond, outPerSecond, stat.get("curr_connections"), stat.get("resident_bytes")];
    for (const [index, value] of values.entries()) this.server[slot * SERVER_SERIES.length + index] = round(Number(value));
  }

  private writeQueues(slot: number, queues: readonly QueueCounters[]): void {
    const chosen = chooseTracked(new Set(this.tracked.keys()), queues, this.trackedLimit);
    for (const name of this.tracked.keys()) if (!chosen.has(name)) this.tracked.delete(name);
    for (const queue of queues) {
      if (!chosen.has(queue.name)) continue;
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
 * it; it returns how to stop it early. A sample still being gathered when the next is due makes
 * that one wait for the following interval. A sample that fails (a bug) stops the sampling with one
 * log line, not the server. Returns the function that stops the sampling.
 */
export function startSampling(history: History, sample: (done: (result: Snapshot | Error) => void) => () => void): () => void {
  let gathering = false;
  let stopGathering = () => {};
  const record = (result: Snapshot | Error): void => {
    gathering = false;
    try {
      if (result instanceof Error) throw result;
      history.record(result, Date.now(), monotonicMs());
    } catch (error) {
      clearInterval(timer);
      log.error(`admin HTTP: history sampling stopped by an internal error: ${errorText(error)}`);
    }
  };
  const timer = setInterval(() => {
    if (gathering) return;
    gathering = true;
    stopGathering = sample(record);
  }, SAMPLE_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    stopGathering();
  };
}

/** Rates to two decimals (whole counts stay whole): enough for a chart, and short JSON. */
function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
