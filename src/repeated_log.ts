/**
 * A log line that can repeat once per item (an expired item dropped because its move target is
 * full) is written once, then counted: while it keeps happening, one line per INTERVAL_MS says
 * how many more there were, so a million dropped items make a few lines, not 87 MB of log. The
 * owner calls `report` when it closes, so no count is lost at a stop. With a `burst`, the first
 * `burst` lines of a key in an interval are written as they come (a fault of a few queues names
 * each; one of 10,000 queues makes a few lines, not 20,000).
 *
 * Invariant: a key is in `counts` from its first line until an interval passes with no repeat;
 * `written` counts its lines written in the current interval, its count the repeats not yet
 * reported.
 */
import { log } from "./log.ts";

const INTERVAL_MS = 10_000;

export class RepeatedLog {
  private readonly counts = new Map<string, { written: number; repeats: number; last: string }>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly write: (message: string) => void = log.warn,
    private readonly intervalMs = INTERVAL_MS,
    private readonly burst = 1,
  ) {}

  /** Logs `message` if fewer than `burst` lines under `key` were logged in the current interval; else counts it. */
  note(key: string, message: string): void {
    const entry = this.counts.get(key);
    if (entry !== undefined && entry.written >= this.burst) {
      entry.repeats++;
      entry.last = message;
      return;
    }
    this.write(message);
    if (entry !== undefined) {
      entry.written++;
      return;
    }
    this.counts.set(key, { written: 1, repeats: 0, last: message });
    if (this.timer === null) {
      this.timer = setInterval(() => this.report(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes how many repeats each key had since the last report; forgets the quiet keys. */
  report(): void {
    for (const [key, entry] of this.counts) {
      if (entry.repeats === 0) {
        this.counts.delete(key);
        continue;
      }
      this.write(entry.repeats === 1 ? entry.last : `${entry.last} (and ${entry.repeats - 1} more like it since the last such line)`);
      entry.repeats = 0;
      entry.written = 0;
    }
    if (this.counts.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
