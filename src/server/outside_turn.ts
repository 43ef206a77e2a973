/**
 * Work that comes to a connection outside its own turn: its wait ended (a set woke the blocked
 * get), or replies became ready as the journal write they waited for settled. Each used to run in
 * a microtask of its own, outside every budget: a burst of 5,000 sets to queues with a blocked
 * get each wrote 5,000 replies in the turns that woke them, stalls of 20-85 ms (issue 9).
 *
 * One microtask runs the lane, in the order the work came, as light work of the current turn
 * (turn_scheduler.ts): each run is told whether the turn has overrun (MAX_OVERRUN_MS past its
 * budget), and once it has, every run left is told so (a connection then leaves its work for
 * its round in the busy connections' lane, `later`), so the rest is done a round's budget at a
 * time. The clock is read once per
 * CHECK_EVERY runs, not per run (a run is a socket write or a light request, a few µs; an
 * ordinary get or set makes one or two runs, and a reading, 60-90 ns here, for each would add
 * 2-4% to them), so a turn may overrun by that many runs more; and after a run once the runs
 * since the last reading wrote CHECK_AFTER_BYTES to their sockets: eight runs each writing a
 * 1 MiB reply (reliable reads of big items, answered as their journal write settled) made gaps
 * of 59-68 ms.
 *
 * A run that throws (a bug) is logged and the drain goes on with the next: the connections
 * behind it are served in the same microtask, and nothing reaches main.ts's last resort.
 *
 * Invariants: every run given is called exactly once, in the order given; once one is told the
 * turn has overrun, so is every later one of the same drain; a microtask is due while the lane is
 * not empty.
 */
import { runGuardedWith } from "../guarded.ts";
import { Deque } from "../queue/deque.ts";
import { bytesWrittenInAll } from "./outbox.ts";
import { overrunDeadline, turnClock } from "./turn_scheduler.ts";

/** Runs between two looks at the clock. */
export const CHECK_EVERY = 8;
/** Bytes written to sockets by the runs since the last look after which the clock is looked at again. */
export const CHECK_AFTER_BYTES = 256 * 1024;
/** What a run's bug is logged as. */
const RUNNING = "running a connection's work outside its turn";

/** `overrun`: the turn is past its overrun; the run should leave its work for a later round. */
export type OutsideTurnRun = (overrun: boolean) => void;

const lane = new Deque<OutsideTurnRun>();
let scheduled = false;

/** Calls `run` in a microtask, after the runs given before it, telling it whether the turn has overrun. */
export function outsideTurn(run: OutsideTurnRun): void {
  lane.push(run);
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(drain);
}

/** Runs the lane until it is empty (runs added meanwhile included). */
function drain(): void {
  let overrun = false;
  let writtenAtLook = 0;
  try {
    for (let runs = 0; lane.length > 0; runs++) {
      if (!overrun && (runs % CHECK_EVERY === 0 || bytesWrittenInAll() - writtenAtLook >= CHECK_AFTER_BYTES)) {
        const now = turnClock.now();
        overrun = now >= overrunDeadline(now);
        writtenAtLook = bytesWrittenInAll();
      }
      runGuardedWith(RUNNING, lane.shift()!, overrun);
    }
  } finally {
    // Should the drain itself throw (a bug beside the runs), the runs left get another microtask.
    scheduled = lane.length > 0;
    if (scheduled) queueMicrotask(drain);
  }
}
