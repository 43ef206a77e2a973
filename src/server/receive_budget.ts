/**
 * Socket bytes received per event-loop turn, over all connections. Bun reads up to 512 KiB from
 * each readable socket per turn, so 40 clients uploading big sets at once were 20 MB of socket
 * reads, copied and parsed, in one turn (attack 1: ping gaps of 30 ms). Once the other
 * connections received RECEIVE_TURN_BYTES during a turn, a connection that receives a big chunk
 * (BIG_CHUNK or more) stops reading until a later turn; held connections read again in the order
 * they were held, as many a turn as the budget covers. Small chunks (ordinary requests, a ping)
 * are never held, and neither is a lone big upload (holding it only made a 64 MiB set take twice
 * as long: its own reads are not what piles up in a turn).
 *
 * A held connection whose resume throws (a bug) is logged once and the others held go on: those
 * let go in the same turn read again all the same (taken out of `held`, they would never be
 * resumed otherwise), and the next turn's are asked for as usual.
 *
 * Invariants: `received` counts the bytes of the current turn `turn` (reset at the first turn
 * boundary after bytes came in), a tally the bytes of its connection in its `turn`; every held
 * connection is resumed exactly once, in the order it was held.
 */
import { runGuarded } from "../guarded.ts";
import { turnTask } from "../turn_task.ts";

/** Bytes received in one turn before big receivers wait for a later one. */
const RECEIVE_TURN_BYTES = 4 * 1024 * 1024;
/** A socket read this big is a big receiver's. */
const BIG_CHUNK = 64 * 1024;
/** The most one socket read brings (Bun's receive buffer). */
const MOST_PER_READ = 512 * 1024;
/** What a resume's bug is logged as. */
const RESUMING = "letting a held connection read again";

/** What one connection received in a turn. */
export interface ReceiveTally {
  turn: number;
  bytes: number;
}

let turn = 0;
let received = 0;
/** The next turn's start, once something was received. */
const schedule = turnTask("starting the receive budget's turn", nextTurn);
const held: Array<() => void> = [];

export function newReceiveTally(): ReceiveTally {
  return { turn: -1, bytes: 0 };
}

/**
 * Counts a chunk of `bytes` received by the connection of `tally`; true if it must stop reading
 * now, and read again when `resume` is called (in a later turn).
 */
export function holdAfter(bytes: number, tally: ReceiveTally, resume: () => void): boolean {
  if (tally.turn !== turn) {
    tally.turn = turn;
    tally.bytes = 0;
  }
  tally.bytes += bytes;
  received += bytes;
  schedule();
  if (bytes < BIG_CHUNK || received - tally.bytes <= RECEIVE_TURN_BYTES) return false;
  held.push(resume);
  return true;
}

/** A new turn: the count starts again, and the first held connections the budget covers read again. */
function nextTurn(): void {
  turn++;
  received = 0;
  for (const resume of held.splice(0, RECEIVE_TURN_BYTES / MOST_PER_READ)) runGuarded(RESUMING, resume);
  if (held.length > 0) schedule();
}
