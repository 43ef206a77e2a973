/**
 * What the command layer keeps for one client connection, whatever protocol it speaks: where its
 * replies go (in request order), who it is, its open reads, and its wait (a blocking read
 * suspends the connection until it is served or given up).
 *
 * Invariants: while suspended, the connection runs nothing else; `cancel` (given with the last
 * `suspend`) runs at most once, when the connection closes while suspended, and must give back
 * whatever the suspended command had taken so far; the request bytes given with `suspend` count
 * as the connection's until it resumes or closes (request_budget.ts).
 *
 * A command's work that runs later (after a wait, in a later turn, when a commit settles) runs
 * through `continueSafely`, as the request itself runs inside the connection's guard: a bug there
 * costs its client one internal-error reply, never the server.
 */
import type { AccessState } from "../access.ts";
import type { Outbox } from "../outbox.ts";
import type { OpenReads } from "./open_reads.ts";

export interface Session {
  readonly outbox: Outbox;
  /** The client's IP address, as the socket reported it when the connection opened. */
  readonly peer: string;
  /** What access control keeps for this connection (access.ts). */
  readonly access: AccessState;
  /** This connection's open (reliable-read) items, per queue. */
  readonly openReads: OpenReads;
  /**
   * The current command finishes later: process nothing else until `resume`. `heldBytes`: request
   * bytes it keeps meanwhile (a put's items not yet added), counted toward the request budget.
   */
  suspend(cancel: () => void, heldBytes?: number): void;
  resume(): void;
  /** Replies were queued while suspended (a monitor's items as they come): write them out soon. */
  replyReady(): void;
  /** Close once every reply is written. */
  quit(): void;
  /**
   * `quit` was called (the server is stopping, or the client said `quit`): a command going on
   * over turns starts no new wait (the stop ended the waits there were: one begun after it would
   * hold the reply, and the stop, until the connection is given up).
   */
  readonly quitting: boolean;
  /**
   * Runs `run`, work of this session's command that comes after the request's execution (its
   * wait ended, a slice in a later turn, a commit settled). If it throws (a bug): logs `internal
   * error <what>: <reason>` once, gives the command up as if the client had left (its `cancel`
   * runs), replies the front end's internal error in the command's place (unless the connection
   * closed) and resumes the connection. Never throws.
   */
  continueSafely(what: string, run: () => void): void;
}
