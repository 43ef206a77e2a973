/**
 * A command-layer `Session` without a connection, for unit tests of src/server/commands/: its
 * outbox writes to a RecordingSocket, and it records whether it is suspended (and the request
 * bytes the command kept then), resumed, asked to write replies out or to quit. `close()` plays the connection closing: the wait is cancelled
 * and the open reads go back, as Connection.onClose does.
 */
import { newAccessState } from "../../src/server/access.ts";
import { OpenReads } from "../../src/server/commands/open_reads.ts";
import type { Session } from "../../src/server/commands/session.ts";
import { Outbox } from "../../src/server/outbox.ts";
import { RecordingSocket } from "./recording_socket.ts";

export class FakeSession implements Session {
  readonly socket = new RecordingSocket();
  readonly outbox = new Outbox(this.socket);
  readonly peer = "127.0.0.1";
  readonly access = newAccessState();
  readonly openReads = new OpenReads();
  suspended = false;
  /** The request bytes given with the last `suspend`. */
  heldBytes = 0;
  resumed = 0;
  repliesReady = 0;
  quitting = false;
  private cancel: (() => void) | null = null;

  suspend(cancel: () => void, heldBytes = 0): void {
    this.suspended = true;
    this.heldBytes = heldBytes;
    this.cancel = cancel;
  }
  resume(): void {
    this.suspended = false;
    this.cancel = null;
    this.resumed++;
  }
  replyReady(): void {
    this.repliesReady++;
  }
  quit(): void {
    this.quitting = true;
  }
  /** Runs `run` unguarded: a unit test sees its command's bug as an exception. */
  continueSafely(_what: string, run: () => void): void {
    run();
  }

  close(): void {
    this.cancel?.();
    this.cancel = null;
    this.openReads.returnAll(Date.now());
  }
}
