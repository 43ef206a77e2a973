/**
 * Waiters woken or released over turns. An item wakes every peek waiter in line (a peek leaves
 * it for the next), so one set to a queue with 5,000 clients blocked in `get q/peek/t=60000` woke
 * 5,000 reads in its turn, 35 ms (issue 9). And ending every wait on a queue at once (its
 * `delete`, the server becoming quiescent or stopping: WaiterList.releaseAll) answered 5,000
 * blocked gets in one turn, 14.5-56 ms. Non-peek waiters woken by items need no lane: each takes
 * an item, so waking them costs in proportion to the requests that brought the items.
 *
 * Within an event-loop turn, such wakes and releases, of every queue together, go on until
 * WAKE_SLICE_MS of the turns' clock have passed since the first of them (src/clock.ts: read once
 * per CHECK_EVERY of them, so a slice may run that many over); a queue that still has waiters to
 * wake or release then asks for a later turn (`LaneWork`), and the lane runs such work in the
 * order it asked, a slice a turn.
 *
 * A run that throws (a bug) is logged and leaves the lane (its queue asks again at its next item
 * or release; a wait left meanwhile still ends at its deadline); the runs after it go on as usual.
 *
 * Invariants: a slice belongs to one turn (the next turn starts a fresh one); once spent, a
 * slice stays spent; a turn is due while the lane is not empty; a run stays in the lane (at its
 * head) until it says it is through; a `LaneWork` is in the lane at most once, and while it is,
 * asking it to run does nothing (so nothing overtakes the waiters it has yet to reach).
 */
import { turnClock } from "../clock.ts";
import { runGuarded } from "../guarded.ts";
import { turnTask } from "../turn_task.ts";
import { Deque } from "./deque.ts";

/** Time peek wakes and releases may take in one turn. */
export const WAKE_SLICE_MS = 2;
/** Wakes or releases between two looks at the clock. */
export const CHECK_EVERY = 8;
/** What a run's bug is logged as. */
const WAKING = "waking a queue's waiters";

/** Wakes (or releases) a queue's waiters for as long as the slice lasts; true when it is through. */
export type WakeRun = () => boolean;

const lane = new Deque<WakeRun>();
let sliceOpen = false;
let sliceSpent = false;
let sliceEnd = 0;
let wakes = 0;
const nextTurn = turnTask("running the wake lane", runLane);

/** Whether one more waiter may be woken (a peek) or released in this turn (counts it if so). */
export function mayWakeWaiter(): boolean {
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

/**
 * One queue's work on its waiters (waking them, or releasing them), done as far as the slice
 * allows when asked and the rest by the lane in later turns. `slice` does it until the slice is
 * spent (`mayWakeWaiter` false) or it is through (then true), at `now` (wall clock: the caller's
 * when asked, Date.now() in the lane's turns).
 */
export class LaneWork {
  /** In the lane: a later turn goes on with it. */
  private queued = false;

  constructor(private readonly slice: (now: number) => boolean) {}

  /** Does a slice's worth now, unless the lane has it already; the rest in later turns. */
  run(now = Date.now()): void {
    if (this.queued || this.slice(now)) return;
    this.queued = true;
    wakeLater(this.later);
  }

  /** The lane's run: goes on from where the last slice ended; true when through. */
  private readonly later = (): boolean => {
    this.queued = false; // a run that throws leaves the work to the next `run`
    this.queued = !this.slice(Date.now());
    return !this.queued;
  };
}

/** A new turn, a new slice: runs the lane's work in order until one stops for the slice's end. */
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
