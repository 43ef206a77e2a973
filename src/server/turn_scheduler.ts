/**
 * How long all connections together execute requests in one event-loop turn, and who goes next.
 *
 * Each connection stops after its own TURN_BUDGET_MS (connection.ts); this caps the sum, so 200
 * busy connections don't make a turn 200 × 5 ms long and leave everyone else (a new client, a
 * ping, the journal flush) waiting a second. A turn opens with the first execution after the
 * last `runLater` round and ends TURN_MS later. A connection whose own or the turn's budget ran
 * out while it still had requests is queued here (`later`) and run in a later round, in the
 * order they were queued; one that can't run because the round's budget is spent keeps its place
 * at the front, so every busy connection gets its share in turn.
 *
 * A connection that was not queued here (it had nothing left over) runs its next request at
 * once even when the turn is spent, if that request is light (connection.ts: not a long line,
 * such as a get of many keys): a client sending one small request (a ping, a `get` of an empty queue) is answered
 * within a turn, not after every busy connection had its share; 200 clients sending big
 * multi-key gets at once take their turns instead of one long one.
 *
 * Invariants: `deadline` belongs to the open turn, if any; a round is scheduled iff `waiting` is
 * not empty or a turn is open (whose end the round marks).
 */
import { Deque } from "../queue/deque.ts";

/** Execution time of all connections together in one turn. */
export const TURN_MS = 8;

const waiting = new Deque<() => void>();
let turnOpen = false;
let deadline = 0;
let scheduled = false;

/** When the current turn's execution budget runs out (opening a turn if none is open). */
export function turnDeadline(): number {
  if (!turnOpen) {
    turnOpen = true;
    deadline = performance.now() + TURN_MS;
    schedule();
  }
  return deadline;
}

/** Runs `run` in a later round, after the ones queued before it. */
export function later(run: () => void): void {
  waiting.push(run);
  schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(runRound);
}

/** A new turn: runs the waiting connections in order until its budget is spent. */
function runRound(): void {
  scheduled = false;
  turnOpen = false;
  for (let count = waiting.length; count > 0 && performance.now() < turnDeadline(); count--) waiting.shift()!();
  if (waiting.length > 0) schedule();
}
