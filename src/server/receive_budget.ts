/**
 * Socket bytes received per event-loop turn, over all connections. Bun reads up to 512 KiB from
 * each readable socket per turn, so 40 clients uploading big sets at once were 20 MB of socket
 * reads, copied and parsed, in one turn (attack 1: ping gaps of 30 ms). A turn's
 * RECEIVE_TURN_BYTES are shared by two kinds of readers: those still reading from the turn before,
 * and held connections let go again. Once the other connections received half of it during a turn,
 * a connection that receives a big chunk (BIG_CHUNK or more) stops reading until a later turn;
 * held connections read again in the order they were held, as many a turn as the other half
 * covers. (Holding only past the whole budget, and letting as many go again, made about two
 * budgets a turn: 8.5 MiB when 40 uploads each read 512 KiB.) A turn of a crowd of uploads costs
 * more than its bytes: on loopback, reading a socket also runs the kernel's work of sending its
 * peer's next packets, so attack 1's turns took 21-38 ms of the main thread at 2 MiB, 30-46 at 4
 * MiB and 45-81 before the split (docs/performance.md). Small chunks (ordinary requests, a ping)
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

/** Bytes received in one turn, about, once big receivers take turns: half by those reading on, half by those let go again. */
const RECEIVE_TURN_BYTES = 2 * 1024 * 1024;
/** What the others received in a turn before a big receiver waits: the share of those reading on. */
const READING_ON_BYTES = RECEIVE_TURN_BYTES / 2;
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
  if (bytes < BIG_CHUNK || received - tally.bytes <= READING_ON_BYTES) return false;
  held.push(resume);
  return true;
}

/** A new turn: the count starts again, and the first held connections the other half covers read again. */
function nextTurn(): void {
  turn++;
  received = 0;
  for (const resume of held.splice(0, (RECEIVE_TURN_BYTES - READING_ON_BYTES) / MOST_PER_READ)) runGuarded(RESUMING, resume);
  if (held.length > 0) schedule();
}
