/**
 * The lane journal rebuilds over turns (Journal.rebuildInTurns) go through, server-wide: at most
 * MAX_IN_FLIGHT run at once; the others wait, in the order they came, and start in a later turn
 * once slots are free, for at most SLICE_MS a turn (a start writes two small files in the turn,
 * each opened new: about 0.1 ms, but tens of ms when the disk is busy with the fsyncs). A rebuild's steps after its fsyncs run in the turn that hears them back, and
 * libuv hands back every fsync done meanwhile in one turn: 3,000 rebuilds started at once (queue_path
 * deleted under 3,000 queues) came back in bursts that made turns of tens of ms. In flight, the
 * bursts are at most MAX_IN_FLIGHT, and so are the fsyncs in libuv's pool (4 threads) queued ahead
 * of a writer's own.
 *
 * Invariants: a start runs once and calls its `done` once (a second call does nothing); a slot is
 * taken from when a start runs until its `done`; waiting starts run in order; at most one turn's
 * worth of waiting starts is scheduled at a time.
 */
import { turnClock } from "../clock.ts";
import { Deque } from "./deque.ts";

/** Rebuilds over turns in flight at once (each holds 2 fsyncs, then 4 directory fsyncs in turn). */
export const MAX_IN_FLIGHT = 16;

/** How long one turn may spend starting waiting rebuilds (at least one is started). */
const SLICE_MS = 2;

type Start = (done: () => void) => void;

let inFlight = 0;
const waiting = new Deque<Start>();
/** A turn that starts waiting rebuilds is scheduled. */
let scheduled = false;

/**
 * Runs `start` now if a slot is free and none waits, else once its turn comes (in a later turn:
 * behind those waiting, even when a slot was just freed); `start` calls `done` when its rebuild
 * ended, or at once if it started none.
 */
export function inRebuildLane(start: Start): void {
  if (inFlight < MAX_IN_FLIGHT && waiting.length === 0) return run(start);
  waiting.push(start);
  scheduleWaiting();
}

/** Rebuilds in flight now (tests). */
export function rebuildsInFlight(): number {
  return inFlight;
}

function run(start: Start): void {
  inFlight++;
  let ended = false;
  const done = (): void => {
    if (ended) return;
    ended = true;
    inFlight--;
    scheduleWaiting();
  };
  try {
    start(done);
  } catch (error) {
    done();
    throw error;
  }
}

function scheduleWaiting(): void {
  if (scheduled || waiting.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
  scheduled = true;
  setImmediate(startWaiting);
}

/** Starts waiting rebuilds while slots are free (one that came meanwhile may have taken one), for SLICE_MS at most; the rest in a later turn. */
function startWaiting(): void {
  scheduled = false;
  const until = turnClock.now() + SLICE_MS;
  do {
    if (waiting.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
    try {
      run(waiting.shift()!);
    } catch {
      // A start reports its own failures (the upkeep logs them); its slot was given back.
    }
  } while (turnClock.now() < until);
  scheduleWaiting();
}
