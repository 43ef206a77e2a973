/**
 * The body of /history.json, written from one moment of the history (a HistoryView, history.ts)
 * a few dozen values at a time into a streamed body's chunks (chunk_writer.ts, render_chunks.ts):
 * each `yield` is a point where the body may stop for the turn. 900 samples of the server and of
 * 100 queues are 366,000 numbers, 1.3-1.8 MB; made in one turn as a `Response.json`, one request
 * held the memcache port 22-35 ms, and 100 clients that never read held it 1.2-2.5 s.
 *
 * Invariant: the bytes are exactly `JSON.stringify(history.toJson(after))` at the view's moment,
 * whatever the history records while they are being sent: keys in the order a JavaScript object
 * lists them (names that are array indices first, in numeric order, then the others as added),
 * numbers as JSON writes them (null for NaN and infinities). What a body holds is the view: the
 * history's own blocks, never copied (a body still being sent when the history lets a block go
 * keeps it: at most the samples it sends, 3.1 MB, and only if it takes over a minute), and the
 * positions of the busy queues whose names are array indices (none unless some queues are named
 * by numbers).
 */
import type { ChunkWriter } from "./chunk_writer.ts";
import { arrayIndexLength, QUEUE_SERIES, SAMPLE_INTERVAL_MS, SERVER_SERIES, type HistoryView } from "./history.ts";

/**
 * Numbers written between two yields: a step about as long as a /metrics line, since once the
 * turn is spent every body still adds 16 steps to its chunk (with 64, 50 clients at once made
 * turns of 20-60 ms while the code was still cold).
 */
const VALUES_PER_STEP = 16;
/** Entries of `rates` written, or names looked at, between two yields. */
const RATES_PER_STEP = 8;
const NAMES_PER_STEP = 256;

/** `{"interval_ms":...,"times":[...],"server":{...},"queues":{...},"rates":{...}}`, as history.ts's HistoryJson. */
export function* historyBody(view: HistoryView, out: ChunkWriter): Generator<void> {
  const { first, last } = view;
  out.text(`{"interval_ms":${SAMPLE_INTERVAL_MS},"samples":${view.capacity},"tracked_queues":${view.trackedLimit},"first":${first},"last":${last},"times":`);
  yield* series(out, first, last, (n) => view.time(n));
  out.text(`,"server":{`);
  for (const [index, name] of SERVER_SERIES.entries()) {
    out.text(`${index === 0 ? "" : ","}"${name}":`);
    yield* series(out, first, last, (n) => view.server(n, index));
  }
  out.text(`},"queues":{`);
  for (const [i, queue] of view.queues.entries()) {
    if (i > 0) out.text(",");
    key(out, queue.name);
    for (const [index, field] of QUEUE_SERIES.entries()) {
      out.text(`${index === 0 ? "{" : ","}"${field}":`);
      yield* series(out, first, last, (n) => view.queue(queue, n, index));
    }
    out.text("}");
  }
  out.text(`},"rates":{`);
  yield* rates(view, out);
  out.text("}}");
}

/** `[value of sample first, ..., value of sample last]`. */
function* series(out: ChunkWriter, first: number, last: number, value: (n: number) => number | null): Generator<void> {
  out.text("[");
  for (let n = first; n <= last; n++) {
    if (n > first) out.text(",");
    jsonNumber(out, value(n));
    if ((n - first) % VALUES_PER_STEP === VALUES_PER_STEP - 1) yield;
  }
  out.text("]");
}

/**
 * `"name":[in,out]` for each busy queue, array indices first. The queues come by name (the
 * snapshot's order), so array indices of one length come in numeric order already: the names are
 * gathered by length, and sorted only if they did not come in order.
 */
function* rates(view: HistoryView, out: ChunkWriter): Generator<void> {
  const { busy } = view;
  const byLength: number[][] = [];
  let unordered = false;
  for (const [i, name] of busy.entries()) {
    const length = arrayIndexLength(name);
    if (length > 0) {
      const same = (byLength[length] ??= []);
      if (same.length > 0 && busy[same.at(-1)!]! > name) unordered = true;
      same.push(i);
    }
    if (i % NAMES_PER_STEP === NAMES_PER_STEP - 1) yield;
  }
  let written = 0;
  const entry = (i: number) => {
    if (written++ > 0) out.text(",");
    key(out, busy[i]!);
    out.text("[");
    jsonNumber(out, view.rates[2 * i]!);
    out.text(",");
    jsonNumber(out, view.rates[2 * i + 1]!);
    out.text("]");
  };
  for (const same of byLength) {
    if (same === undefined) continue;
    if (unordered) same.sort((a, b) => Number(busy[a]) - Number(busy[b]));
    for (const i of same) {
      entry(i);
      if (written % RATES_PER_STEP === 0) yield;
    }
  }
  for (const [i, name] of busy.entries()) {
    if (arrayIndexLength(name) === 0) entry(i);
    if (i % RATES_PER_STEP === RATES_PER_STEP - 1) yield;
  }
}

/** A number as JSON writes it (null for NaN and infinities, and for null). */
function jsonNumber(out: ChunkWriter, value: number | null): void {
  if (value !== null && Number.isFinite(value)) out.number(value);
  else out.text("null");
}

/** A JSON string escapes these (a queue name holds none but `"` and `\`). */
const ESCAPED_IN_JSON = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `"name":`, as JSON.stringify writes a key. */
function key(out: ChunkWriter, name: string): void {
  if (ESCAPED_IN_JSON.test(name)) {
    out.text(JSON.stringify(name));
  } else {
    out.text('"');
    out.text(name);
    out.text('"');
  }
  out.text(":");
}
