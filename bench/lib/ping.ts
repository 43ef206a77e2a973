/**
 * The stall probe: one connection that sends a cheap request on a fixed beat (every 5 ms) and
 * times each reply, so the longest time the server left a client waiting shows up as a gap.
 *
 * Rules of the beat (`PingClock`, pure, time passed in):
 *   - pings are due at start, start + interval, start + 2 x interval, ...;
 *   - at most one ping is in flight: when one is due while the last is unanswered, none is sent;
 *   - a ping's gap runs from when it was due to when its reply arrived, so it includes this
 *     process's own timer lateness, which is recorded beside it as a sanity check: gaps are
 *     trustworthy only while that lateness stays small.
 * `Pinger` drives the clock from a timer over a `Pipeline`; the request is `get <queue>` on a queue
 * nobody fills, so every reply must be a bare END, and anything else fails the probe.
 */
import { Samples } from "./client.ts";
import { Pipeline } from "./pipeline.ts";

export const PING_INTERVAL_MS = 5;
/** The queue the pings read; it stays empty. */
export const PING_QUEUE = "ping_nothing";

export class PingClock {
  /** Round trips, due to reply, in ms. */
  readonly gaps = new Samples();
  /** How late the timer fired after a due time, in ms. */
  readonly lateness = new Samples();
  sent = 0;
  private nextDue: number;
  /** The due time of the ping in flight. */
  private inFlight: number | null = null;

  constructor(
    readonly intervalMs: number,
    startAt: number,
  ) {
    this.nextDue = startAt;
  }

  /** When the timer should fire next. */
  get dueAt(): number {
    return this.nextDue;
  }

  /**
   * The timer fired at `now` (not before `dueAt`): records its lateness, moves the beat to the
   * next due time after `now`, and says whether to send a ping now (false while one is in flight).
   */
  fire(now: number): boolean {
    const due = this.nextDue;
    this.lateness.push(now - due);
    this.nextDue = due + (Math.floor((now - due) / this.intervalMs) + 1) * this.intervalMs;
    if (this.inFlight !== null) return false;
    this.inFlight = due;
    this.sent++;
    return true;
  }

  /** The reply to the ping in flight arrived at `now`; returns its gap. */
  answered(now: number): number {
    if (this.inFlight === null) throw new Error("a ping reply with no ping in flight");
    const gap = now - this.inFlight;
    this.inFlight = null;
    this.gaps.push(gap);
    return gap;
  }
}

/** What one probe saw, in ms. */
export interface PingFigures {
  readonly sent: number;
  readonly worstGapMs: number;
  readonly p99GapMs: number;
  /** Pings whose gap exceeded `limitMs`. */
  readonly overLimit: number;
  readonly limitMs: number;
  readonly worstLatenessMs: number;
  /** Why the probe stopped early (a wrong reply, a closed connection), or null. */
  readonly failure: string | null;
}

export function pingFigures(clock: PingClock, limitMs: number, failure: string | null): PingFigures {
  const [p99, worst] = clock.gaps.percentiles([0.99, 1]);
  const [worstLateness] = clock.lateness.percentiles([1]);
  return { sent: clock.sent, worstGapMs: worst!, p99GapMs: p99!, overLimit: clock.gaps.countOver(limitMs), limitMs, worstLatenessMs: worstLateness!, failure };
}

export class Pinger {
  private readonly request = Buffer.from(`get ${PING_QUEUE}\r\n`, "latin1");
  private readonly clock: PingClock;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: string | null = null;

  private constructor(
    private readonly pipeline: Pipeline,
    private readonly limitMs: number,
  ) {
    this.clock = new PingClock(PING_INTERVAL_MS, performance.now());
    this.schedule();
  }

  /** Connects to the server on `port` and starts the beat; `limitMs` is the gap counted as too long. */
  static async start(port: number, limitMs: number): Promise<Pinger> {
    const pipeline = new Pipeline("ping", new Uint8Array(0), (kind, detail) => (kind === "miss" ? null : `ping answered ${kind}${detail === "" ? "" : `: ${detail}`}`));
    await pipeline.connect(port);
    return new Pinger(pipeline, limitMs);
  }

  /** Stops the beat, waits for the reply to the ping in flight (its gap counts too), closes the connection. */
  async stop(): Promise<PingFigures> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    this.pipeline.close();
    return pingFigures(this.clock, this.limitMs, this.failure);
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.ceil(this.clock.dueAt - performance.now())));
  }

  private tick(): void {
    const now = performance.now();
    if (now >= this.clock.dueAt && this.clock.fire(now)) this.send();
    if (this.failure === null) this.schedule();
  }

  private send(): void {
    this.inFlight = this.pipeline.send(this.request, 1).then(
      () => void this.clock.answered(performance.now()),
      (error: Error) => void (this.failure = error.message),
    );
  }
}
