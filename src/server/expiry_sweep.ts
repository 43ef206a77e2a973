/**
 * The periodic expiry sweep's schedule (`expiration_timer_frequency`).
 *
 * A sweep is due `frequency` ms after the last one (or the start), on the monotonic clock. A
 * reload sets the frequency again: the same frequency keeps the due time, a new one moves it to
 * the last sweep plus the new frequency (at once if that has passed), 0 stops the sweeps. So
 * reloads, however frequent, never hold a sweep off, and a wall clock that jumps doesn't move it.
 *
 * A sweep that throws (a bug: each queue's share of it is guarded in its round already, so one
 * outside them) is logged once and the next sweep is due as usual; nothing reaches main.ts's
 * last resort, which would end the server.
 */
import { monotonicMs, type Clock } from "../clock.ts";
import { runGuarded } from "../guarded.ts";

/** What a sweep's bug is logged as. */
const SWEEPING = "sweeping expired items";

export class ExpirySweep {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private frequencyMs = 0;
  private lastSweep: number;

  constructor(
    private readonly sweep: () => void,
    private readonly now: Clock = monotonicMs,
  ) {
    this.lastSweep = now();
  }

  /** Sweeps every `frequencyMs` from now on (0: never); the same frequency changes nothing. */
  setFrequency(frequencyMs: number): void {
    if (frequencyMs === this.frequencyMs) return;
    this.frequencyMs = frequencyMs;
    this.schedule();
  }

  stop(): void {
    this.setFrequency(0);
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.frequencyMs <= 0) return;
    const dueIn = this.lastSweep + this.frequencyMs - this.now();
    this.timer = setTimeout(() => this.run(), Math.max(0, dueIn));
  }

  private run(): void {
    this.lastSweep = this.now();
    // Scheduled first: a sweep that throws doesn't end the schedule.
    this.schedule();
    runGuarded(SWEEPING, this.sweep);
  }
}
