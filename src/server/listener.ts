/**
 * A listening port (the memcache and text ports' Bun.listen, the admin port's Bun.serve), kept
 * from running out of file descriptors.
 *
 * Bun 1.4 has no hook for accept() errors: at the descriptor limit (EMFILE, or ENFILE system-wide)
 * with a connection waiting, its event loop retries the failing accept() at once and forever (the
 * error path in usockets' loop.c is a to-do; oven-sh/bun#32705), so the process spins at 100% CPU,
 * the connection hangs in the backlog and nothing is logged. So accept() is never let fail: the
 * server asks `refusal()` for each connection it accepts, which checks that ACCEPT_MARGIN more
 * descriptors could be had (it dups a descriptor the listener keeps open on /dev/null and closes
 * the copies, cheaper than opening and closing /dev/null), and a timer checks every CHECK_EVERY_MS
 * by opening /dev/null (journals take descriptors too; that also notices the system's file table
 * full, ENFILE, which a dup can't). When they can't, the listening socket is closed: new clients
 * get "connection refused" instead of a hang, the connection just accepted gets a SERVER_ERROR,
 * and the connections open are served as before. It listens again on the same port once
 * RESUME_FREE descriptors are free, checking after RETRY_MIN_MS, then backing off to RETRY_MAX_MS.
 * Each backoff counts in `listen_backoffs`, `accepting` says whether the port is open, and the log
 * says so at most once per LOG_EVERY_MS.
 *
 * A dup and a close are system calls of 2 µs or more each here, and Bun accepts a burst of
 * connects in one turn (hundreds of them when 19,500 connect), so within a turn a check may vouch
 * for the accepts after it: the first accept of a turn is checked alone, the next check takes
 * ACCEPT_MARGIN + 2 descriptors and vouches for the 2 accepts after it, the next for 4, and so on
 * up to ACCEPT_CREDIT (a turn of k accepts makes about k dups, against 2k). The accepts a check
 * vouched for each take one descriptor, so ACCEPT_MARGIN are still free after each. Where a check
 * with credit finds too few free, every accept of the turn is checked alone, as near the limit it
 * must be.
 *
 * The admin port has no hook where a connection is accepted (Bun.serve): only the check every
 * CHECK_EVERY_MS closes it, so a client can make the server spin for up to that long there.
 *
 * `stop` stops the current listener only: connections accepted before a backoff belong to one
 * stopped already (the server ends them itself; the process exit closes any left).
 */
import { closeSync, openSync } from "node:fs";
import { monotonicMs, type Clock } from "../clock.ts";
import { errorText } from "../errors.ts";
import { libc } from "../libc.ts";
import { log } from "../log.ts";
import { turnTask } from "../turn_task.ts";

/** Descriptors that must still be free after a connection is accepted: the next one's, and one for a journal. */
const ACCEPT_MARGIN = 2;
/** The most accepts of a turn one check vouches for (it finds ACCEPT_MARGIN + that many descriptors free). */
export const ACCEPT_CREDIT = 32;
/** Descriptors that must be free to listen again (so it doesn't stop again at the next connection). */
const RESUME_FREE = 16;
const CHECK_EVERY_MS = 1000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
const LOG_EVERY_MS = 30_000;

/** Where the listener reports (the server's stats). */
export interface ListenerCounters {
  listenBackoffs: number;
  /** 1 while the port accepts connections, 0 while backed off. */
  accepting: number;
}

/** What a listener binds: Bun.listen's listener, or an adapter over Bun.serve's server. */
export interface BoundPort {
  readonly port: number;
  readonly hostname: string;
  stop(closeConnections: boolean): void;
}

export class Listener {
  private current: BoundPort | null;
  readonly port: number;
  readonly hostname: string;
  private readonly check: ReturnType<typeof setInterval>;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private retryMs = RETRY_MIN_MS;
  private resumedAt = -Infinity;
  private stopped = false;
  private lastLogAt = -Infinity;
  private unlogged = 0;
  /** The last backoff was logged: so is the end of it. */
  private backoffLogged = false;
  /** A descriptor on /dev/null for `refusal` to dup, or null (none could be opened, no libc: it opens /dev/null instead). */
  private readonly spare: number | null;
  /** Accepts of this turn a check vouched for that are still to come. */
  private credit = 0;
  /** The credit the next check of this turn asks for: 0 at the turn's first accept, -1 once too few were free. */
  private nextCredit = 0;
  /** Ends the credit with the turn it was given in. */
  private readonly endCreditAfterTurn = turnTask("ending an accept credit with its turn", () => {
    this.credit = 0;
    this.nextCredit = 0;
  });
  /** Why fewer than `count` more descriptors can be had now, or null. */
  private readonly shortageOf: DescriptorProbe;

  /** Listens with `bind(port)` (0: any free port; again on the port it got, after a backoff); throws if it can't. */
  constructor(
    private readonly bind: (port: number) => BoundPort,
    port: number,
    private readonly counters: ListenerCounters,
    private readonly now: Clock = monotonicMs,
    /** How descriptors are checked (a test's own); by default dups of a descriptor on /dev/null. */
    probe?: DescriptorProbe,
  ) {
    this.current = bind(port);
    this.spare = probe !== undefined || libc() === null ? null : openQuietly("/dev/null");
    const spare = this.spare;
    this.shortageOf = probe ?? (spare === null ? descriptorShortage : (count) => dupShortage(spare, count));
    this.port = this.current.port;
    this.hostname = this.current.hostname;
    this.counters.accepting = 1;
    this.check = setInterval(() => this.checkDescriptors(), CHECK_EVERY_MS);
  }

  /**
   * For a connection just accepted: why it must be refused, or null. It is refused when it took
   * one of the last descriptors; the port then closes until some are free. Never throws.
   */
  refusal(): string | null {
    if (this.credit > 0) {
      this.credit--;
      return null;
    }
    const asked = this.nextCredit;
    if (asked > 0 && this.shortageOf(ACCEPT_MARGIN + asked) === null) {
      this.credit = asked;
      this.nextCredit = Math.min(2 * asked, ACCEPT_CREDIT);
      return null;
    }
    const shortage = this.shortageOf(ACCEPT_MARGIN);
    if (shortage === null) {
      if (asked === 0) this.endCreditAfterTurn();
      this.nextCredit = asked === 0 ? 2 : -1;
      return null;
    }
    this.backOff(shortage);
    return `out of file descriptors (${shortage})`;
  }

  /** Stops listening for good; `closeConnections` also closes the current listener's connections. */
  stop(closeConnections: boolean): void {
    if (this.spare !== null && !this.stopped) closeSync(this.spare);
    this.stopped = true;
    clearInterval(this.check);
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this.current?.stop(closeConnections);
  }

  private checkDescriptors(): void {
    if (this.current === null) return;
    const shortage = descriptorShortage(ACCEPT_MARGIN);
    if (shortage !== null) this.backOff(shortage);
  }

  private backOff(shortage: string): void {
    if (this.current === null || this.stopped) return;
    this.credit = 0;
    this.nextCredit = 0;
    this.current.stop(false);
    this.current = null;
    this.counters.listenBackoffs++;
    this.counters.accepting = 0;
    // Listening went well for a while since the last backoff: start again from a short wait.
    if (this.now() - this.resumedAt > RETRY_MAX_MS) this.retryMs = RETRY_MIN_MS;
    this.backoffLogged = this.warnAtMostEvery(
      `out of file descriptors (${shortage}): not accepting connections on ${this.hostname}:${this.port} until some are free; connections already open are served as before`,
    );
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retry = setTimeout(() => this.tryToListen(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private tryToListen(): void {
    this.retry = null;
    if (this.stopped) return;
    if (descriptorShortage(RESUME_FREE) !== null) return this.scheduleRetry();
    try {
      this.current = this.bind(this.port);
    } catch (error) {
      this.warnAtMostEvery(`could not listen on ${this.hostname}:${this.port} again (trying again): ${errorText(error)}`);
      return this.scheduleRetry();
    }
    this.counters.accepting = 1;
    this.resumedAt = this.now();
    if (this.backoffLogged) log.info(`accepting connections on ${this.hostname}:${this.port} again`);
  }

  /** Logs a warning unless one was logged less than LOG_EVERY_MS ago; true if it did. */
  private warnAtMostEvery(message: string): boolean {
    const now = this.now();
    if (now - this.lastLogAt < LOG_EVERY_MS) {
      this.unlogged++;
      return false;
    }
    const unlogged = this.unlogged === 0 ? "" : ` (${this.unlogged} more such event(s) since the last message)`;
    log.warn(message + unlogged);
    this.lastLogAt = now;
    this.unlogged = 0;
    return true;
  }
}

/** "EMFILE" or "ENFILE" if fewer than `count` more descriptors can be had now, else null. Never throws. */
export type DescriptorProbe = (count: number) => string | null;

/** A descriptor on `path`, or null if it can't be opened. */
function openQuietly(path: string): number | null {
  try {
    return openSync(path, "r");
  } catch {
    return null;
  }
}

/** "EMFILE" if fewer than `count` more descriptors can be had now (by dups of `open`, a descriptor that is open), else null. */
function dupShortage(open: number, count: number): string | null {
  const { dup, close } = libc()!;
  return shortage(count, () => {
    const copy = dup(open);
    return copy < 0 ? "EMFILE" : copy;
  }, close);
}

/**
 * "EMFILE" or "ENFILE" if fewer than `count` more descriptors can be opened now, else null (also
 * when /dev/null can't be opened for another reason: then nothing can be known). Never throws.
 */
function descriptorShortage(count: number): string | null {
  return shortage(count, openDevNull, closeSync);
}

/** A new descriptor on /dev/null, or why there is none ("EMFILE", "ENFILE"; null for another reason). */
function openDevNull(): number | string | null {
  try {
    return openSync("/dev/null", "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE" ? code : null;
  }
}

/**
 * Takes `count` descriptors with `take`, then gives them back with `give`: the shortage `take`
 * met before it had them all (null: it can't tell), or null if it had them all.
 */
function shortage(count: number, take: () => number | string | null, give: (fd: number) => void): string | null {
  const taken: number[] = [];
  try {
    while (taken.length < count) {
      const fd = take();
      if (typeof fd !== "number") return fd;
      taken.push(fd);
    }
    return null;
  } finally {
    for (const fd of taken) give(fd);
  }
}
