/**
 * How long all connections together execute requests in one event-loop turn, and who goes next.
 *
 * Each connection stops after its own TURN_BUDGET_MS (connection.ts); this caps the sum, so 200
 * busy connections don't make a turn 200 × 4 ms long and leave everyone else (a new client, a
 * ping, the journal flush) waiting a second. A turn opens with the first execution after the
 * last `runLater` round and ends TURN_MS later. A connection whose own or the turn's budget ran
 * out while it still had requests is queued here (`later`) and run in a later round, in the
 * order they were queued; one that can't run because the round's budget is spent keeps its place
 * at the front, so every busy connection gets its share in turn.
 *
 * A connection that was not queued here (it had nothing left over) runs its next request at
 * once even when the turn is spent, if that request is light (memcache/request_weight.ts: not a long line,
 * not a get of big items or of items on disk): a client sending one small request (a ping, a `get`
 * of an empty queue) is answered within a turn, not after every busy connection had its share;
 * 200 clients sending big multi-key gets, or 300 opening 1 MiB items each, take their turns
 * instead of one long one. That exemption lasts until the turn has overrun its budget by
 * MAX_OVERRUN_MS (so many light requests, or one misjudged, can't make a turn run away either);
 * after that a light request waits in the prompt lane (`soon`), which a round serves before the
 * busy connections (`later`), so it is still answered in the next round. A connection runs only
 * that one request from the prompt lane and the rest of its pipeline in its round as a busy one
 * (connection.ts): 300 connections pipelining 100 light gets each, every one run there for its
 * whole budget, kept a ping behind them waiting 200-460 ms. Each round runs at
 * least one busy connection, so a stream of light requests can't starve them. What comes to a
 * connection outside its turn (a wait ended, a commit settled) is light work too, run until the
 * overrun and then in the busy connections' lane (outside_turn.ts).
 *
 * A run that throws (a bug) is logged and the round goes on with the next: the runs behind it,
 * every busy connection's, never wait for a round nobody schedules.
 *
 * Invariants: `deadline` belongs to the open turn, if any; a round is scheduled iff a lane is
 * not empty or a turn is open (whose end the round marks); a connection is in at most one lane.
 */
import { turnClock } from "../clock.ts";
import { runGuarded } from "../guarded.ts";
import { Deque } from "../queue/deque.ts";
import type { SlicePace } from "../queue/sliced_round.ts";
import { turnTask } from "../turn_task.ts";

/** The clock turns are measured with (src/clock.ts; a test may set `now` to one it steps itself). */
export { turnClock };

/** Execution time of all connections together in one turn. */
export const TURN_MS = 5;
/** Execution time of one connection in one turn (its requests, or the slices of one that runs over turns). */
export const CONNECTION_TURN_MS = 4;
/** How far past its budget light requests may take a turn. */
export const MAX_OVERRUN_MS = TURN_MS;
/** What a run's bug is logged as. */
const RUNNING = "running work queued for a turn";

/** Light requests that arrived after the turn's overrun (served first in a round). */
const prompt = new Deque<() => void>();
/** Busy connections, in the order their budget ran out. */
const waiting = new Deque<() => void>();
let turnOpen = false;
let deadline = 0;
/** The next round, in a later turn. */
const schedule = turnTask("running a turn's round", runRound);

/** When the current turn's execution budget runs out (opening a turn, at `now`, if none is open). */
export function turnDeadline(now?: number): number {
  if (!turnOpen) {
    turnOpen = true;
    deadline = (now ?? turnClock.now()) + TURN_MS;
    schedule();
  }
  return deadline;
}

/**
 * Until when one connection may execute from `now` (the turn clock's reading): its own budget,
 * within the turn's (opening a turn if none is open).
 */
export function connectionDeadline(now: number = turnClock.now()): number {
  return Math.min(now + CONNECTION_TURN_MS, turnDeadline(now));
}

/** Until when the current turn may run light requests (opening a turn, at `now`, if none is open). */
export function overrunDeadline(now?: number): number {
  return turnDeadline(now) + MAX_OVERRUN_MS;
}

/** Runs `run` in a later round, after the busy ones queued before it. */
export function later(run: () => void): void {
  waiting.push(run);
  schedule();
}

/**
 * Paces a client's SlicedRound like a connection's requests: a slice ends at its `sliceMs` or at
 * the turn's budget, whichever comes first (at least one element), and the next runs in a later
 * round (`later`), taking turns with the busy connections; a round started when the turn's budget
 * is spent runs its first slice there too.
 */
export const sharedTurns: SlicePace = {
  until: (sliceMs) => {
    const now = turnClock.now();
    return Math.min(now + sliceMs, turnDeadline(now));
  },
  next: (slice) => {
    let cancelled = false;
    later(() => {
      if (!cancelled) slice();
    });
    return () => (cancelled = true);
  },
  // A round started once the turn's budget is spent (fifty clients each starting one) waits its turn.
  startsNow: () => {
    const now = turnClock.now();
    return now < turnDeadline(now);
  },
};

/** Runs `run` (a light request that came after the turn's overrun) first in the next round, after the prompt ones queued before it. */
export function soon(run: () => void): void {
  prompt.push(run);
  schedule();
}

/** A new turn: runs the prompt lane, then the busy connections in order, until its budget is spent (but at least one busy one). */
function runRound(): void {
  turnOpen = false;
  if (prompt.length + waiting.length === 0) return;
  const end = turnDeadline();
  runWhileBefore(prompt, prompt.length, end);
  const busy = waiting.length;
  if (busy > 0) runGuarded(RUNNING, waiting.shift()!);
  runWhileBefore(waiting, busy - 1, end);
  if (prompt.length + waiting.length > 0) schedule();
}

/** Runs up to `count` runs from the head of `lane`, in order, while the time is before `end`. */
function runWhileBefore(lane: Deque<() => void>, count: number, end: number): void {
  for (; count > 0 && turnClock.now() < end; count--) runGuarded(RUNNING, lane.shift()!);
}
