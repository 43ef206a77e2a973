/**
 * Peek waiters woken over turns. An item wakes every peek waiter in line (a peek leaves it for
 * the next), so one set to a queue with 5,000 clients blocked in `get q/peek/t=60000` woke 5,000
 * reads in its turn, 35 ms (issue 9). Non-peek waiters need no lane: each takes an item, so
 * waking them costs in proportion to the requests that brought the items.
 *
 * Within an event-loop turn, peek wakes go on until WAKE_SLICE_MS of the turns' clock have
 * passed since the first of them (src/clock.ts: read once per CHECK_EVERY wakes, so a slice may
 * run that many wakes over); a queue that still has peek waiters to wake then asks for a later
 * turn (`wakeLater`), and the lane runs such queues in the order they asked, a slice a turn.
 *
 * A run that throws (a bug) is logged and leaves the lane (its queue wakes its waiters again at
 * its next item); the runs after it go on as usual.
 *
 * Invariants: a slice belongs to one turn (the next turn starts a fresh one); once spent, a
 * slice stays spent; a turn is due while the lane is not empty; a queue's run stays in the lane
 * (at its head) until it says it is through.
 */
import { turnClock } from "../clock.ts";
import { runGuarded } from "../guarded.ts";
import { turnTask } from "../turn_task.ts";
import { Deque } from "./deque.ts";

/** Time peek wakes may take in one turn. */
export const WAKE_SLICE_MS = 2;
/** Peek wakes between two looks at the clock. */
export const CHECK_EVERY = 8;
/** What a run's bug is logged as. */
const WAKING = "waking a queue's peek waiters";

/** Wakes a queue's waiters for as long as the slice lasts; true when it is through. */
export type WakeRun = () => boolean;

const lane = new Deque<WakeRun>();
let sliceOpen = false;
let sliceSpent = false;
let sliceEnd = 0;
let wakes = 0;
const nextTurn = turnTask("running the peek wake lane", runLane);

/** Whether one more peek waiter may be woken in this turn (counts it if so). */
export function mayWakePeekWaiter(): boolean {
  if (!sliceOpen) {
    sliceOpen = true;
    sliceSpent = false;
    wakes = 0;
    sliceEnd = turnClock.now() + WAKE_SLICE_MS;
    nextTurn(); // the slice ends with this turn
  } else if (!sliceSpent && wakes % CHECK_EVERY === 0) {
    sliceSpent = turnClock.now() >= sliceEnd;
  }
  if (sliceSpent) return false;
  wakes++;
  return true;
}

/** Runs `run` in a later turn, after the runs that asked before it, until it says it is through. */
export function wakeLater(run: WakeRun): void {
  lane.push(run);
  nextTurn();
}

/** A new turn, a new slice: runs the lane's queues in order until one stops for the slice's end. */
function runLane(): void {
  sliceOpen = false;
  for (let run = lane.shift(); run !== undefined; run = lane.shift()) {
    // A run that throws counts as through: it leaves the lane.
    if (runGuarded(WAKING, run, true)) continue;
    lane.unshift(run);
    break;
  }
  if (lane.length > 0) nextTurn();
}
