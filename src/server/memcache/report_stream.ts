/**
 * A report made as it is sent: `stats`, `dump_stats` and `dump_config` list every queue, so with
 * thousands of them they are megabytes of text (100,000 queues: `dump_config` 43 MiB), and tens
 * to hundreds of ms of work in one go. A report is a generator that writes its text into a
 * ReportText a step at a time (one queue's lines, or one queue added to a sum) and yields after
 * each; `streamInSlices` runs its steps for SLICE_MS, hands the text to the outbox once there is
 * SEND_FROM_BYTES of it (or the report ended), and goes on in a later round of the turn scheduler
 * (turn_scheduler.ts `later`), other clients served in between. A slice also ends where the
 * turn's budget, shared with every connection's requests, does: 20 clients sending `stats` at
 * once take their turns, they do not make one turn of 20 slices.
 *
 * Meanwhile the connection is suspended, as behind a blocking get: its later requests wait, and
 * their replies follow the report. While the client has REPLY_ROOM bytes unread, no step runs
 * (looked at again every WAIT_MS), so a client that does not read holds at most REPLY_ROOM and
 * one slice's text (SLICE_BYTES or one step more). A report done within its first slice goes out
 * with no suspension. A connection that closes stops the report where it is. A step that throws
 * (a bug) ends the report with a SERVER_ERROR line, logged; the server and the connection go on.
 */
import { errorText } from "../../errors.ts";
import { log } from "../../log.ts";
import type { Session } from "../commands/session.ts";
import { serverError } from "./replies.ts";
import { later, turnClock, turnDeadline } from "../turn_scheduler.ts";

/** What a report's slices in later turns are called in a log line. */
const CONTINUING = "continuing a report";
/** Work per turn on a report. */
const SLICE_MS = 2;
/** Unread reply bytes above which a report waits for the client. */
const REPLY_ROOM = 1024 * 1024;
/** How often a waiting report looks whether the client read. */
const WAIT_MS = 5;
/**
 * Text made before it is handed to the outbox (all of it at the end): a short report goes out in
 * one write. Some clients read a reply from one socket read: node's `memcached` keeps only the
 * STAT lines that came with END.
 */
const SEND_FROM_BYTES = 64 * 1024;
/** Text one slice makes at most (one step may end past it). */
const SLICE_BYTES = 256 * 1024;
/** The buffer a slice's text starts in (it grows by doubling past that). */
const FIRST_BUFFER_BYTES = 16 * 1024;

/** A report's steps: each writes its text (if any) into `text`, then yields. */
export type ReportSteps = (text: ReportText) => Iterator<void>;

/** Sends the report `steps` make to `session`, a slice per turn when it is long (see above). */
export function streamInSlices(session: Session, steps: ReportSteps, sliceMs = SLICE_MS): void {
  const text = new ReportText();
  const report = steps(text);
  let suspended = false;
  let cancelled = false;
  const slice = (): void => {
    if (cancelled) return;
    if (session.outbox.backlog >= REPLY_ROOM) {
      // Suspended even when this is the first slice: the requests after it wait, their replies behind it.
      suspend();
      return void setTimeout(() => session.continueSafely(CONTINUING, slice), WAIT_MS);
    }
    const until = Math.min(turnClock.now() + sliceMs, turnDeadline());
    let done: boolean;
    try {
      do done = report.next().done === true;
      while (!done && turnClock.now() < until && text.length < SLICE_BYTES);
    } catch (error) {
      // A bug in a step: logged, and the report ends with a SERVER_ERROR line (nothing else fails).
      log.error(`a report failed part-way: ${errorText(error)}`);
      text.write(serverError(`report failed: ${errorText(error)}`));
      done = true;
    }
    if (done) session.outbox.push(text.take());
    else if (text.length >= SEND_FROM_BYTES) session.outbox.pushPart(text.take());
    if (done) {
      if (suspended) session.resume();
      return;
    }
    suspend();
    session.replyReady();
    later(() => session.continueSafely(CONTINUING, slice));
  };
  const suspend = (): void => {
    if (!suspended) session.suspend(() => (cancelled = true));
    suspended = true;
  };
  slice();
}

/**
 * A slice's text written as bytes into one buffer (Latin-1: queue names and settings are printable
 * ASCII). The text of thousands of queues would otherwise be hundreds of thousands of short
 * strings, the garbage of which held the resident set 60-90 MiB up for a moment at 15,000 queues.
 */
export class ReportText {
  private buffer = Buffer.allocUnsafe(FIRST_BUFFER_BYTES);
  length = 0;

  write(text: string): void {
    if (this.length + text.length > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length, "latin1");
  }

  /** The text written so far, handed over (the outbox keeps it): later text goes into a new buffer. */
  take(): Uint8Array {
    const bytes = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.allocUnsafe(FIRST_BUFFER_BYTES);
    this.length = 0;
    return bytes;
  }
}
