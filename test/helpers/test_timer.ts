/**
 * A DeadlineTimer on a clock the test moves (open_transaction_timeout and other deadlines without
 * waiting for real time), counting the deadlines it is given.
 */
import { DeadlineTimer } from "../../src/queue/deadline_timer.ts";

export class TestTimer extends DeadlineTimer {
  clock = 0;
  deadlinesAdded = 0;

  constructor() {
    super(() => this.clock);
  }

  override add(delayMs: number, fire: () => void) {
    this.deadlinesAdded++;
    return super.add(delayMs, fire);
  }

  /** Moves the clock on by `ms` and fires what is due. */
  advance(ms: number): void {
    this.clock += ms;
    this.fireDue();
  }
}
