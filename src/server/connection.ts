/**
 * One client connection: bytes in, frames executed in order, replies out. The protocol is its
 * front end's (front_end.ts: a parser and an execute function); all else here is the same for
 * every protocol.
 *
 * Invariants: requests are executed strictly in arrival order and one at a time (a blocking get
 * suspends everything behind it); a connection executes for at most CONNECTION_TURN_MS per
 * event-loop turn, and all of them together for at most the turn's budget (turn_scheduler.ts; then
 * the rest of its pipelined requests wait for a later round, so no client's burst, nor many
 * clients' bursts, can stall the others); what comes to it outside its turn (its wait ended, a
 * commit its replies waited for settled) is light work of the current turn, left for a later round
 * once the turn has overrun (outside_turn.ts); replies that are ready leave in one socket write per
 * turn, and a STORED waits (with everything behind it) for the journal write that covers it;
 * reading pauses while the reply backlog (replies ready, and replies waiting for a journal write)
 * is over HIGH_WATER, so neither a client that doesn't read nor a stuck journal makes the server
 * buffer without bound, while the server-wide request budget refuses what this connection needs
 * (RequestBudget), and until a later turn once the other connections spent the turn's receive
 * budget and this one receives big chunks (receive_budget.ts); when the connection closes, its open
 * items and the items of replies that never reached the socket go back to the head of their queues,
 * its waits are cancelled and the request bytes it buffered are freed at once
 * (RequestParser.discard); a command that throws (a bug), when its request runs or in work of it
 * that comes later (`continueSafely`), costs one log line, and its client still gets exactly one
 * reply for the request (the internal error, or the reply the command had placed before it threw:
 * Outbox.fail; none at all if it asked for noreply), and the connection goes on with its next request.
 *
 * Idleness is kept here, on the monotonic clock: the last time bytes came in or replies went out.
 * A connection is closed for idleness (`closeIfIdle`, called by the server's periodic check) only
 * once that was `idleTimeoutMs` ago, and never while a blocking get waits or it owes replies
 * (closing it would lose the items in them). Bun's own socket timer is turned off: re-armed at
 * each request, it still closed connections busy every 0.2 s.
 */
import { monotonicMs } from "../clock.ts";
import { logBug, runGuarded } from "../guarded.ts";
import { newAccessState } from "./access.ts";
import { OpenReads } from "./commands/open_reads.ts";
import type { Session } from "./commands/session.ts";
import type { ServerContext } from "./context.ts";
import type { FrameParser, FrontEnd } from "./front_end.ts";
import { Outbox, type ReplyPiece } from "./outbox.ts";
import { outsideTurn } from "./outside_turn.ts";
import { holdAfter, newReceiveTally } from "./receive_budget.ts";
import type { BudgetReader } from "./request_budget.ts";
import { connectionDeadline, later, overrunDeadline, soon, turnClock } from "./turn_scheduler.ts";

/** Reply bytes queued for a client before we stop reading its requests. */
const HIGH_WATER = 4 * 1024 * 1024;
/** Request bytes buffered while a blocking get waits, or while requests wait for a later turn, before we stop reading. */
const MAX_BUFFERED_WHILE_WAITING = 1024 * 1024;

/** The part of a Bun socket a connection uses (a test can supply its own). */
export interface ClientSocket {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  pause(): void;
  resume(): void;
  timeout(seconds: number): void;
  /** The peer's IP address. */
  readonly remoteAddress: string;
}

/** What the server does with a connection, whatever its protocol. */
export interface ServedConnection {
  readonly peer: string;
  onData(chunk: Uint8Array): void;
  onDrain(): void;
  onClose(): void;
  closeIfIdle(now: number): boolean;
  quit(): void;
}

export class Connection<F> implements Session, BudgetReader, ServedConnection {
  readonly outbox: Outbox;
  readonly openReads = new OpenReads();
  /** The peer's address once read (`peer`). */
  private peerAddress: string | null = null;
  readonly access = newAccessState();
  private readonly parser: FrameParser<F>;
  private suspended = false;
  /** Request bytes the suspended command keeps (Session.suspend). */
  private suspendedBytes = 0;
  private cancelWait: (() => void) | null = null;
  private processing = false;
  private closing = false;
  private closed = false;
  private readPaused = false;
  /** The others spent the turn's receive budget and this connection receives big chunks: it reads again in a later turn (receive_budget.ts). */
  private receiveHeld = false;
  private readonly received = newReceiveTally();
  /** A run outside the connection's turn is due (goOnSoon). */
  private goOnScheduled = false;
  /** Requests are left for a later turn (the turn's budget ran out). */
  private behind = false;
  /** A request parsed when the turn was spent and left for later (heavy, or past the overrun): the first to run in this connection's round. */
  private held: F | null = null;
  /** What the client of the request running (or going on over turns) gets if its command throws: null when it asked for no reply. */
  private failureReply: ReplyPiece | null = null;
  private bytesWrittenReported = 0;
  /**
   * When an idle check (`closeIfIdle`) last found traffic since the one before (monotonic ms):
   * traffic only sets `active`, so a request reads no clock for it.
   */
  private lastActivityMs = monotonicMs();
  /** Bytes came in or went out, or a wait ended, since the last idle check. */
  private active = false;

  constructor(
    private readonly socket: ClientSocket,
    private readonly ctx: ServerContext,
    private readonly frontEnd: FrontEnd<F>,
    /** Close the connection after this long without traffic (0: never). */
    private readonly idleTimeoutMs: number,
    private readonly maxRequestSize: number,
  ) {
    this.outbox = new Outbox(socket, () => this.replyReady());
    this.parser = frontEnd.newParser(maxRequestSize);
    // Bun closes a socket idle for 120 s unless told otherwise; idleness is checked here instead.
    this.socket.timeout(0);
  }

  /** The peer's IP address, read when first asked for: Bun reads it with a system call (getpeername). */
  get peer(): string {
    return (this.peerAddress ??= this.socket.remoteAddress);
  }

  onData(chunk: Uint8Array): void {
    if (this.closing || this.closed) return;
    this.ctx.stats.bytesRead += chunk.length;
    this.ctx.pacer.traffic(chunk.length);
    this.parser.push(chunk);
    this.active = true;
    if (holdAfter(chunk.length, this.received, this.receiveAgain)) this.receiveHeld = true;
    this.process();
  }

  /** The receive budget's turn came back (see `receiveHeld`). */
  private readonly receiveAgain = (): void => {
    this.receiveHeld = false;
    if (!this.closed) this.updateReadPause();
  };

  onDrain(): void {
    const more = this.outbox.drained();
    this.afterWrite();
    if (more) this.continueLater(later);
    else if (this.outbox.backlog < HIGH_WATER) this.process();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.requestBudget.release(this);
    this.parser.discard();
    this.held = null;
    this.cancelWait?.();
    this.cancelWait = null;
    // Last taken first, so the first taken ends up at the head again.
    for (const handover of this.outbox.undelivered().reverse()) handover.giveBack();
    this.openReads.returnAll(Date.now());
  }

  /**
   * The idle check, made every so often (server.ts): closes the connection if no check found
   * traffic for `idleTimeoutMs` as of `now` (monotonic ms) and it isn't waiting: not in a blocking
   * get, and owing no replies (waiting for a journal write, or for the client to read). Traffic
   * is dated by the check that finds it, so a connection is closed at most two checks' interval
   * after the timeout. Returns whether it did.
   */
  closeIfIdle(now: number): boolean {
    if (this.active) {
      this.active = false;
      this.lastActivityMs = now;
      return false;
    }
    if (this.idleTimeoutMs <= 0 || this.closed || this.suspended || !this.outbox.idle) return false;
    if (now - this.lastActivityMs < this.idleTimeoutMs) return false;
    this.socket.end();
    return true;
  }

  suspend(cancel: () => void, heldBytes = 0): void {
    this.suspended = true;
    this.suspendedBytes = heldBytes;
    this.cancelWait = cancel;
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.suspendedBytes = 0;
    this.cancelWait = null;
    this.active = true;
    this.goOnSoon();
  }

  /** Replies became ready outside this connection's turn: write them out soon. */
  replyReady(): void {
    this.goOnSoon();
  }

  /**
   * Outside this connection's turn (its wait ended, or replies became ready as their commit
   * settled): writes what is ready and executes what waits, soon, as light work of the turn;
   * once the turn has overrun, in this connection's round (outside_turn.ts).
   */
  private goOnSoon(): void {
    if (this.goOnScheduled) return;
    this.goOnScheduled = true;
    outsideTurn(this.goOn);
  }

  /** goOnSoon's run (one function per connection, not one per call). */
  private readonly goOn = (overrun: boolean): void => {
    this.goOnScheduled = false;
    if (this.closed) return;
    if (overrun) return this.continueLater(later);
    this.writeOut();
    // Replies that waited for a commit count toward the backlog: requests held back by them go on.
    if (this.outbox.backlog < HIGH_WATER && !this.nothingToExecute()) this.process();
  };

  quit(): void {
    this.closing = true;
    this.replyReady();
  }

  get quitting(): boolean {
    return this.closing;
  }

  /**
   * Executes buffered requests until input runs out, something must wait or the turn's budget is
   * spent, then writes. `lightOnly` (a run from the prompt lane): only the request held there runs
   * now, the rest waits for the connection's round as a busy one's would.
   */
  private process(lightOnly = false): void {
    if (this.processing || this.closed) return;
    if (this.behind) {
      // Its turn comes in a later round (turn_scheduler.ts); meanwhile what arrives is only counted.
      this.updateReadPause();
      return;
    }
    // Nothing to execute (a reply became ready, a wait ended with no request behind it): no clock
    // to read and no turn to open.
    if (this.nothingToExecute()) return this.writeOut();
    this.processing = true;
    let now = turnClock.now();
    const until = connectionDeadline(now);
    try {
      // Each round ends when input runs out, a command waits, the budget is spent, or the
      // replies pile up; in the last case the replies are written and, if the socket took them,
      // the next round starts.
      while (this.executeBuffered(until, now, lightOnly)) {
        this.writeOut();
        if (this.outbox.backlog >= HIGH_WATER || this.closed) break;
        now = turnClock.now();
      }
    } finally {
      this.processing = false;
    }
    this.writeOut();
  }

  /**
   * Runs frames until there are none, one can't run now or `until` passed (`now` is the turn
   * clock's reading for the first frame); true if stopped by the backlog. Past `until` the first
   * frame still runs if it is light and the turn has not overrun (see turn_scheduler.ts); a heavy
   * one waits for the connection's round, a light one past the overrun for the prompt lane.
   * `lightOnly`: one frame at most, the rest in the connection's round (the prompt lane is for
   * light requests: a connection pipelining many of them, run there for its whole budget, made
   * everyone behind it in the lane wait a turn per connection).
   */
  private executeBuffered(until: number, now: number, lightOnly: boolean): boolean {
    for (let first = true; !this.suspended && !this.closing; first = false) {
      if (this.outbox.backlog >= HIGH_WATER) return true;
      if (this.nothingToExecute()) return false;
      const spent = (first ? now : turnClock.now()) >= until;
      if (spent && (!first || this.held !== null || this.parser.nextLineLongerThan(this.frontEnd.lightLineBytes))) {
        // Nothing left: the next request that arrives is again one that may run at once.
        if (this.held !== null || this.parser.bufferedBytes > 0) this.continueLater(later);
        return false;
      }
      this.parser.maxRequestSize = this.frontEnd.requestLimit(this, this.ctx, this.maxRequestSize);
      const frame = this.held ?? this.parser.next();
      this.held = null;
      if (frame === null) {
        // A big set's data is copied into place a slice per turn: the rest in this connection's next round.
        if (this.parser.busy) this.continueLater(later);
        return false;
      }
      const closingReply = this.frontEnd.closingReply(frame, this);
      if (closingReply !== null) {
        this.outbox.push(closingReply);
        this.closing = true;
        return false;
      }
      if (spent && !this.frontEnd.isLight(frame, this.ctx)) {
        this.held = frame;
        this.continueLater(later);
        return false;
      }
      if (spent && turnClock.now() >= overrunDeadline()) {
        this.held = frame;
        this.continueLater(soon);
        return false;
      }
      this.executeSafely(frame);
      if (lightOnly) {
        if (!this.suspended && !this.closing && !this.nothingToExecute()) this.continueLater(later);
        return false;
      }
    }
    return false;
  }

  /** No request is held or buffered: the parser has nothing to return and no work to go on with. */
  private nothingToExecute(): boolean {
    return this.held === null && this.parser.bufferedBytes === 0;
  }

  /** The turn's budget is spent: the rest waits for a later round in `lane` (turn_scheduler.ts). */
  private continueLater(lane: typeof later): void {
    if (this.behind) return;
    this.behind = true;
    lane(() => {
      this.behind = false;
      this.process(lane === soon);
    });
  }

  private executeSafely(frame: F): void {
    this.ctx.pacer.request();
    this.outbox.startReply();
    this.failureReply = this.frontEnd.internalError(frame);
    try {
      this.frontEnd.execute(frame, this, this.ctx);
    } catch (error) {
      this.commandFailed(`executing ${this.frontEnd.describe(frame)}`, error);
    }
  }

  continueSafely(what: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.commandFailed(what, error);
    }
  }

  /**
   * A command threw (a bug) while `what`: logged once; a command that suspended the connection is
   * given up as if the client had left (its `cancel` gives back what it took), unless it had placed
   * its whole reply (what it took is handed out in that reply: giving it back too would hand it out
   * twice), and the connection resumed; the client gets exactly one reply for the request
   * (Outbox.fail: the front end's internal error in the command's reply place, or an error ending
   * the part of its reply it placed, or nothing more if its reply was placed). Never throws.
   */
  private commandFailed(what: string, error: unknown): void {
    logBug(what, error);
    if (this.suspended) {
      const cancel = this.cancelWait;
      this.cancelWait = null;
      if (cancel !== null && this.outbox.replyPlaced !== "whole") runGuarded(`giving up the command that failed ${what}`, cancel);
      this.resume();
    }
    if (!this.closed) this.outbox.fail(this.failureReply);
  }

  /** Writes what is ready, a flush's worth (FLUSH_BYTES); the rest in a later round, in turn with the others. */
  private writeOut(): void {
    if (this.closed) return;
    if (this.outbox.flush()) this.continueLater(later);
    this.afterWrite();
    if (this.closing && this.outbox.idle) this.socket.end();
    this.updateReadPause();
  }

  /** Counts what was written; a connection that is receiving replies is not idle. */
  private afterWrite(): void {
    const written = this.outbox.bytesWritten - this.bytesWrittenReported;
    if (written === 0) return;
    this.ctx.stats.bytesWritten += written;
    this.ctx.pacer.traffic(written);
    this.bytesWrittenReported = this.outbox.bytesWritten;
    this.active = true;
  }

  budgetChanged(): void {
    if (!this.closed) this.updateReadPause();
  }

  private updateReadPause(): void {
    const held = this.parser.bufferedBytes + (this.held === null ? 0 : this.frontEnd.heldBytes(this.held)) + this.suspendedBytes;
    const granted = this.ctx.requestBudget.claim(this, held, Math.max(held, this.parser.announcedBytes));
    const waiting = this.suspended || this.behind;
    const shouldPause = !granted || this.receiveHeld || this.outbox.backlog >= HIGH_WATER || (waiting && held > MAX_BUFFERED_WHILE_WAITING);
    if (shouldPause === this.readPaused) return;
    this.readPaused = shouldPause;
    if (shouldPause) this.socket.pause();
    else this.socket.resume();
  }
}
