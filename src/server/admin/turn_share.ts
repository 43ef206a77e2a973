/**
 * The admin port's share of an event-loop turn, however many requests are under way: the start
 * of a request and each chunk of a streamed body (streamed_body.ts) is a piece of work queued
 * here and run in a later turn, in order, while the turn's budget lasts (turn_scheduler.ts) and
 * the turn has handed the admin replies less than ADMIN_TURN_BYTES; the rest waits, in its
 * place, for the next turn.
 *
 * Each body being sent takes a chunk a turn, and a chunk of a shared body (shared_body.ts) costs
 * nothing to make, but handing it to the socket copies it: 2,000 clients reading /metrics at
 * 10,000 queues were each handed 64 KiB a turn (128 MiB), and 2,000 asking /health at once each
 * looked at every queue in one turn; the memcache clients waited 300-700 ms. Work waiting here
 * costs nothing a turn (a reply waiting for its turn is not woken to find it has none). The first
 * piece of each round always runs, so a busy memcache port never starves the admin port.
 *
 * Invariant: a round is scheduled while work is waiting (a round finding none does nothing); it
 * runs only work queued before it began; `roundBytes` counts what its work handed out. Work that
 * throws (a bug) is logged and the round goes on: the work behind it never waits for a later
 * request to start a round.
 */
import { errorText } from "../../errors.ts";
import { log } from "../../log.ts";
import { Deque } from "../../queue/deque.ts";
import { turnTask } from "../../turn_task.ts";
import { turnClock, turnDeadline } from "../turn_scheduler.ts";

/** What a turn hands the admin replies at most (past its first piece of work). */
export const ADMIN_TURN_BYTES = 1024 * 1024;
/** What starting a request counts for (so at most 64 start in a turn: /health looks at every queue). */
const REQUEST_START_BYTES = 16 * 1024;

const waiting = new Deque<() => void>();
let roundBytes = 0;
const schedule = turnTask("running the admin port's share of a turn", runRound);

/** Runs `work` (synchronous) in a later turn, after the work queued before it, within the admin port's share. */
export function inTurnShare(work: () => void): void {
  waiting.push(work);
  schedule();
}

/** Resolves in a later turn once a request may start (the work of starting it counted as REQUEST_START_BYTES). */
export function requestStart(): Promise<void> {
  return new Promise((resolve) =>
    inTurnShare(() => {
      handedOut(REQUEST_START_BYTES);
      resolve();
    }),
  );
}

/** `count` bytes were handed to an admin reply by the work running now. */
export function handedOut(count: number): void {
  roundBytes += count;
}

/** A turn's round: the work queued before it, in order, the first always, the rest while the share lasts. */
function runRound(): void {
  roundBytes = 0;
  const end = turnDeadline();
  let count = waiting.length;
  if (count > 0) runNext();
  for (count--; count > 0 && roundBytes < ADMIN_TURN_BYTES && turnClock.now() < end; count--) runNext();
  if (waiting.length > 0) schedule();
}

/** Runs the oldest work; one that throws (a bug) is logged, so the round goes on. */
function runNext(): void {
  try {
    waiting.shift()!();
  } catch (error) {
    log.error(`admin HTTP: internal error in a reply's turn: ${errorText(error)}`);
  }
}
