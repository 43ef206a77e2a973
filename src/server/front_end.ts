/**
 * What a connection needs of the protocol it speaks (a front end: memcache/, text/): a parser
 * that frames the byte stream into requests, and a way to run each request. The connection keeps
 * everything else (transport, reply order, backpressure, budgets, turn scheduling, idleness), so
 * every protocol is served alike.
 *
 * Invariants asked of a front end: its parser buffers at most one line of its line limit or one
 * request of `maxRequestSize`, `next` never throws, and a frame that `closingReply` answers ends
 * the connection (the parser has given up on the stream).
 */
import type { Session } from "./commands/session.ts";
import type { ServerContext } from "./context.ts";
import type { ReplyPiece } from "./outbox.ts";

export interface FrameParser<F> {
  /** The largest request accepted now; the connection may lower it for a while. */
  maxRequestSize: number;
  /** `next` returned null with work it can go on with in a later turn, without more input. */
  readonly busy: boolean;
  /** Bytes received and not yet returned as frames; at 0, `next` returns null and `busy` is false. */
  readonly bufferedBytes: number;
  /** The size of the request being received, as its header announced it, or 0. */
  readonly announcedBytes: number;
  push(chunk: Uint8Array): void;
  /** The next frame, or null until more bytes arrive. */
  next(): F | null;
  /** Whether the next request is a complete line longer than `bytes` (a look without parsing it). */
  nextLineLongerThan(bytes: number): boolean;
  /** The connection is gone: drop every buffered byte and give its memory back at once. */
  discard(): void;
}

export interface FrontEnd<F> {
  /** Names the protocol in log lines. */
  readonly name: string;
  newParser(maxRequestSize: number): FrameParser<F>;
  /** A command line longer than this is heavy before it is parsed (request weight, turn_scheduler.ts). */
  readonly lightLineBytes: number;
  /** Whether `frame` is cheap enough to run at once when the turn's budget is spent. */
  isLight(frame: F, ctx: ServerContext): boolean;
  /** Bytes of request data `frame` holds (a frame held for a later turn counts toward the request budget). */
  heldBytes(frame: F): number;
  /** The reply to send before closing when `frame` says the stream can't be trusted; null for a request. */
  closingReply(frame: F, session: Session): ReplyPiece | null;
  /** The largest request `session` may send next, given the server's `maxRequestSize`. */
  requestLimit(session: Session, ctx: ServerContext, maxRequestSize: number): number;
  /** Runs one request; its replies go to the session's outbox. */
  execute(frame: F, session: Session, ctx: ServerContext): void;
  /** What to call `frame` in a log line. */
  describe(frame: F): string;
  /** The reply to `frame` when its execution threw (a bug); null if the request asked for no reply (noreply). */
  internalError(frame: F): ReplyPiece | null;
  /** The reply to a connection refused as it opens (server stopping, too many connections). */
  refuseConnection(reason: string): string;
}
