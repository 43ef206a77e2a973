/**
 * A `Session` for unit tests of the command layer (src/server/commands/): a real Outbox writing to
 * a RecordingSocket and real open reads, with the suspension a connection would keep recorded
 * instead of acted on.
 */
import { newAccessState } from "../../src/server/access.ts";
import { OpenReads } from "../../src/server/commands/open_reads.ts";
import type { Session } from "../../src/server/commands/session.ts";
import { Outbox } from "../../src/server/outbox.ts";
import { flushJournals } from "../../src/journal/flush_scheduler.ts";
import { RecordingSocket } from "./recording_socket.ts";

export class FakeSession implements Session {
  readonly socket = new RecordingSocket();
  readonly outbox = new Outbox(this.socket);
  readonly peer = "127.0.0.1";
  readonly access = newAccessState();
  readonly openReads = new OpenReads();
  suspended = false;
  quitCalled = false;
  private cancel: (() => void) | null = null;

  suspend(cancel: () => void): void {
    this.suspended = true;
    this.cancel = cancel;
  }

  resume(): void {
    this.suspended = false;
    this.cancel = null;
  }

  quit(): void {
    this.quitCalled = true;
  }

  /** The connection went away while suspended: what a Connection's close does to its wait. */
  leave(): void {
    this.cancel?.();
    this.cancel = null;
    this.openReads.returnAll(Date.now());
  }

  /** Writes the journals, then what the outbox holds; returns everything written so far. */
  output(): string {
    flushJournals();
    this.outbox.flush();
    return this.socket.output;
  }
}
