/**
 * The replies of one connection, in request order, written to the socket with backpressure.
 *
 * A reply can wait: for a journal commit (`pushAfter`: a STORED waits for its record to be
 * written) or to be decided (`defer`/`resolve`: a blocking get); later replies queue behind it.
 * If the commit fails and the writer kept its records for a retry (`Commit.retry`), the reply
 * waits for that retry (and the next, ...) and goes out as it is once its records are on disk, so
 * a reply always matches the disk: a STORED item is kept, an item handed out is never handed out
 * again after a crash. Only if the records never get there (the server stops first) does the
 * reply's `OnFailure` decide what is sent instead.
 *
 * A `Handover` placed after a reply marks items taken or opened for it: once every byte before it
 * has gone to the socket the items are delivered (its `delivered` runs then: an open item's
 * open_transaction_timeout starts, never while its reply is still here); if the connection ends
 * first, `undelivered()` lists the handovers still queued so the items go back to their queues
 * instead of being lost. A reply replaced by its `OnFailure` (its records never reached the disk:
 * the server is stopping) drops its handovers: its items come back at the next start.
 * Consecutive replies waiting for the same commit share one entry and one commit listener.
 * `flush` packs small pieces (protocol lines as strings, small items) into one scratch buffer
 * shared by all connections and writes it with one call; a large item is written from its own
 * buffer, without a copy. Whatever the socket doesn't take is kept, in order, until `drained()`.
 * One `flush` writes up to a limit and says whether it left pieces the socket would take: packing
 * a backlog of 4 MiB of 15-byte replies is 280,000 copies (about 28 ms), so the connection writes
 * the rest in later turns, taking its turn with the others.
 *
 * Exactly one reply per request, even when its command throws (a bug): the connection calls
 * `startReply` before each request, and the outbox keeps what that request's command has placed
 * of its reply: nothing, a part (`pushPart`, `pushPartAfter`: a monitor's items as they are
 * opened, a long report's text, each followed later by more) or all of it (`push`, `pushAfter`,
 * `resolve`). `fail` then gives the client one well-formed reply and keeps it in step:
 * - nothing placed: the error is the reply, in the place the command reserved (`defer`) if it
 *   did, else after every reply queued;
 * - all of it placed (a STORED, a get's VALUE/END, a blocking get's decided reply): nothing is
 *   added, the reply goes out as placed, with what it hands out (a second reply would put every
 *   later reply on the connection one off);
 * - a part placed: the parts stay (they may have gone to the socket already; nothing can take them
 *   back) and the error ends the reply, as a report ends on a step that failed and as memcached
 *   answers a get with SERVER_ERROR: an error line ends a reply in both protocols. Parts must
 *   therefore hand out nothing a client could lose by dropping a reply that ends in an error: a
 *   monitor's items are open reads (they stay open on the connection, settled by a confirm or
 *   given back when it closes), a report's text is no item; a command that takes items for good
 *   places its reply whole (a get does), so its Handover marks keep their promise.
 */
import { runGuarded } from "../guarded.ts";
import type { Commit } from "../journal/commit.ts";
import { Deque } from "../queue/deque.ts";

export interface ReplySink {
  /** Bytes the socket took (may be fewer than given), or -1 if it is closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/** A handover's `delivered` when there is nothing to do then (a taken item's). */
const NOTHING = (): void => {};
/** What a bug in a handover's `delivered` is logged as. */
const DELIVERING = "marking a reply's items delivered";

/** Items taken or opened for a reply: how to put them back if the reply never leaves, and what to do once it has. */
export class Handover {
  constructor(
    readonly giveBack: () => void,
    /** Every byte before the mark went to the socket (called once, guarded: a bug is logged). */
    readonly delivered: () => void = NOTHING,
  ) {}
}

/** A piece of a reply: protocol text (latin1, one byte per char), item bytes, or a handover mark. */
export type ReplyPiece = string | Uint8Array | Handover;

/** What a waiting reply becomes if its records never reach the disk; null to send it anyway. */
export type OnFailure = {
  /** The reply sent instead. */
  readonly reply: (error: string) => ReplyPiece[];
} | null;

/** What the current request's command has placed of its reply (see the header: `fail`). */
export type ReplyPlaced = "nothing" | "part" | "whole";

/** A place in the reply order, decided later. */
export interface Deferred {
  /** The reply, or null until it is decided. */
  pieces: ReplyPiece[] | null;
  /** The reply also waits for this commit to settle. */
  commit: Commit | null;
  onFailure: OnFailure;
  /** How many replies `pieces` holds (consecutive ones waiting for one commit share an entry): each gets its own failure reply. */
  replies: number;
}

const SCRATCH_SIZE = 64 * 1024;
/**
 * What a queued piece costs besides its bytes, counted in the backlog: its slot and its string or
 * view object. A client pipelining 4 MiB of `version` unread held 280,000 replies of 15 bytes, 16
 * MB, against a backlog bound of 4 MiB.
 */
export const PIECE_OVERHEAD = 48;
/** What one `flush` writes at most (the first piece always goes, whatever its size): one scratch buffer. */
export const FLUSH_BYTES = 64 * 1024;
/** Pieces this big are written from their own buffer instead of being copied. */
const DIRECT_WRITE = 16 * 1024;
/** One scratch buffer serves every connection: a write copies it into the kernel at once. */
const scratch = Buffer.allocUnsafe(SCRATCH_SIZE);

export class Outbox {
  private readonly ready = new Deque<ReplyPiece>();
  private readyBytes = 0;
  private readonly waiting = new Deque<Deferred>();
  /** Bytes of the replies in `waiting`: they count toward the backlog, or a client could pile them up. */
  private waitingBytes = 0;
  private blocked = false;
  private dead = false;
  /** The commit the last listener was registered on (one listener covers consecutive replies). */
  private watched: Commit | null = null;
  private readonly commitSettled = () => {
    this.release();
    this.onReady();
  };
  bytesWritten = 0;
  /** What the current request's command has placed of its reply (`startReply` starts a request). */
  private placed: ReplyPlaced = "nothing";
  /** Replies and parts placed so far, ever: a command that throws can tell whether the piece it was placing got in. */
  placements = 0;

  /** `onReady` is called when waiting replies became ready outside the connection's turn. */
  constructor(
    private readonly sink: ReplySink,
    private readonly onReady: () => void = () => {},
  ) {}

  /**
   * Memory of the replies queued (ready or waiting for a commit) and not yet taken by the socket:
   * their bytes plus PIECE_OVERHEAD a piece.
   */
  get backlog(): number {
    return this.readyBytes + this.waitingBytes + PIECE_OVERHEAD * this.ready.length;
  }

  /** Nothing is queued or waiting to be decided. */
  get idle(): boolean {
    return this.readyBytes === 0 && this.waiting.length === 0;
  }

  /** A new request starts: nothing of its reply is placed yet. */
  startReply(): void {
    this.placed = "nothing";
  }

  /** What the current request's command has placed of its reply so far. */
  get replyPlaced(): ReplyPlaced {
    return this.placed;
  }

  /** Queues the current request's reply, or the last part of it. */
  push(...pieces: ReplyPiece[]): void {
    this.pushAll(pieces);
    this.placedAll();
  }

  /** Queues a part of the current request's reply: more follows (see the header). */
  pushPart(...pieces: ReplyPiece[]): void {
    this.pushAll(pieces);
    this.placedPart();
  }

  private placedAll(): void {
    this.placed = "whole";
    this.placements++;
  }

  private placedPart(): void {
    if (this.placed === "nothing") this.placed = "part";
    this.placements++;
  }

  private pushAll(pieces: ReplyPiece[]): void {
    if (this.waiting.length === 0) {
      for (const piece of pieces) this.enqueue(piece);
      return;
    }
    // A copy: `pieces` may be shared (a constant reply).
    this.waiting.push({ pieces: pieces.slice(), commit: null, onFailure: null, replies: 1 });
    this.waitingBytes += sizeOf(pieces);
  }

  /** Queues a reply that leaves once `commit` settles; if it fails, `onFailure` decides what is sent. */
  pushAfter(commit: Commit, pieces: ReplyPiece[], onFailure: OnFailure): void {
    this.queueAfter(commit, pieces, onFailure);
    this.placedAll();
  }

  /** As `pushAfter`, for a part of the current request's reply: more follows (see the header). */
  pushPartAfter(commit: Commit, pieces: ReplyPiece[], onFailure: OnFailure): void {
    this.queueAfter(commit, pieces, onFailure);
    this.placedPart();
  }

  private queueAfter(commit: Commit, pieces: ReplyPiece[], onFailure: OnFailure): void {
    if (commit.state === "durable" || (commit.state === "failed" && commit.retry === null)) {
      return this.pushAll(settled(commit, pieces, onFailure, 1));
    }
    const last = this.waiting.at(this.waiting.length - 1);
    this.waitingBytes += sizeOf(pieces);
    if (last !== undefined && last.commit === commit && last.onFailure === onFailure && last.pieces !== null) {
      for (const piece of pieces) last.pieces.push(piece);
      last.replies++;
      return;
    }
    // A copy: the entry grows as later replies join it, and `pieces` may be shared (a constant STORED).
    this.waiting.push({ pieces: pieces.slice(), commit, onFailure, replies: 1 });
    this.watch(commit);
  }

  defer(): Deferred {
    const deferred: Deferred = { pieces: null, commit: null, onFailure: null, replies: 1 };
    this.waiting.push(deferred);
    return deferred;
  }

  /** Decides a deferred reply; it leaves once `commit` (if any) settles. */
  resolve(deferred: Deferred, pieces: ReplyPiece[], commit: Commit | null = null, onFailure: OnFailure = null): void {
    deferred.pieces = pieces;
    this.waitingBytes += sizeOf(pieces);
    deferred.commit = commit;
    deferred.onFailure = onFailure;
    if (commit !== null && commit.state === "pending") this.watch(commit);
    this.placedAll();
    this.release();
  }

  /**
   * The current request's command failed (a bug): gives its client one reply in all (see the
   * header). `piece` (the front end's internal error) goes in the place the command reserved with
   * `defer` and never decided, if it has one (a connection runs one command at a time, so at most
   * one place is undecided: its reply was not placed); else after every reply queued, unless the
   * command placed its whole reply already. A null `piece` (the request asked for no reply) only
   * closes that place, with nothing in it. Returns whether `piece` was queued.
   */
  fail(piece: ReplyPiece | null): boolean {
    for (const entry of this.waiting) {
      if (entry.pieces === null) {
        this.resolve(entry, piece === null ? [] : [piece]);
        return piece !== null;
      }
    }
    if (this.placed === "whole" || piece === null) return false;
    this.push(piece);
    return true;
  }

  /** Moves every decided reply at the head of the waiting line to the ready queue. */
  private release(): void {
    for (let head = this.waiting.peek(); head !== undefined && isDecided(head); head = this.waiting.peek()) {
      const retry = head.commit?.state === "failed" ? head.commit.retry : null;
      if (retry !== null) {
        head.commit = retry;
        if (retry.state === "pending") return this.watch(retry);
        continue;
      }
      this.waiting.shift();
      this.waitingBytes -= sizeOf(head.pieces!);
      for (const piece of head.commit === null ? head.pieces! : settled(head.commit, head.pieces!, head.onFailure, head.replies)) this.enqueue(piece);
    }
  }

  private watch(commit: Commit): void {
    if (commit === this.watched) return;
    this.watched = commit;
    commit.onSettled(this.commitSettled);
  }

  /**
   * Handovers whose replies have not all gone to the socket (the connection is ending), in reply
   * order; they are forgotten here.
   */
  undelivered(): Handover[] {
    const marks: Handover[] = [];
    for (const piece of this.ready) if (piece instanceof Handover) marks.push(piece);
    for (const entry of this.waiting) for (const piece of entry.pieces ?? []) if (piece instanceof Handover) marks.push(piece);
    this.ready.clear();
    this.waiting.clear();
    this.readyBytes = this.waitingBytes = 0;
    return marks;
  }

  /**
   * Writes what the socket takes, until `limit` bytes went out and more than `limit` is left (so
   * the end of a reply, its `END` after a big item, goes with it); true if pieces the socket might
   * take are left (the limit stopped it).
   */
  flush(limit = FLUSH_BYTES): boolean {
    const until = this.bytesWritten + limit;
    while (!this.blocked && !this.dead && this.ready.length > 0) {
      if (this.bytesWritten >= until && this.readyBytes > limit) return true;
      const first = this.ready.peek()!;
      if (first instanceof Handover) {
        this.ready.shift(); // every byte before it was written: delivered
        if (first.delivered !== NOTHING) runGuarded(DELIVERING, first.delivered);
      } else if (typeof first !== "string" && first.length >= DIRECT_WRITE) {
        this.ready.shift();
        this.wrote(first, 0, first.length, this.sink.write(first));
      } else {
        const length = this.packScratch();
        this.wrote(scratch, 0, length, this.sink.write(scratch, 0, length));
      }
    }
    return false;
  }

  /** The socket can take more: writes (as `flush` does). */
  drained(): boolean {
    this.blocked = false;
    return this.flush();
  }

  private enqueue(piece: ReplyPiece): void {
    if (piece instanceof Handover) return void this.ready.push(piece);
    if (piece.length === 0) return;
    // Long text (a big stats report) is encoded once here, so it never has to fit the scratch.
    this.ready.push(typeof piece === "string" && piece.length >= DIRECT_WRITE ? Buffer.from(piece, "latin1") : piece);
    this.readyBytes += piece.length;
  }

  /** Moves small pieces from the head of `ready` into the scratch buffer; returns its length. */
  private packScratch(): number {
    let length = 0;
    for (let piece = this.ready.peek(); piece !== undefined && !(piece instanceof Handover); piece = this.ready.peek()) {
      if (typeof piece === "string") {
        if (length + piece.length > SCRATCH_SIZE) break;
        scratch.write(piece, length, "latin1");
      } else {
        if (piece.length >= DIRECT_WRITE || length + piece.length > SCRATCH_SIZE) break;
        scratch.set(piece, length);
      }
      length += piece.length;
      this.ready.shift();
    }
    return length;
  }

  /** Accounts for a write of `buffer[offset, offset+length)` that took `written` bytes. */
  private wrote(buffer: Uint8Array, offset: number, length: number, written: number): void {
    if (written < 0) {
      // The socket is gone: nothing more leaves; the handovers stay for `undelivered()`.
      this.dead = true;
      this.ready.retain((piece) => piece instanceof Handover);
      this.readyBytes = 0;
      return;
    }
    this.bytesWritten += written;
    writtenInAll += written;
    this.readyBytes -= written;
    if (written < length) {
      // Keep the rest; a scratch-buffer rest must be copied out, the scratch is reused at once.
      const rest = buffer.subarray(offset + written, offset + length);
      this.ready.unshift(buffer === scratch ? new Uint8Array(rest) : rest);
      this.blocked = true;
    }
  }
}

/** Bytes every outbox of the process handed to its socket so far (outside_turn.ts reads the clock after a run that wrote many). */
let writtenInAll = 0;

export function bytesWrittenInAll(): number {
  return writtenInAll;
}

/** What reply pieces count for in the backlog: their bytes (a handover mark has none), plus PIECE_OVERHEAD each. */
function sizeOf(pieces: readonly ReplyPiece[]): number {
  let bytes = PIECE_OVERHEAD * pieces.length;
  for (const piece of pieces) if (!(piece instanceof Handover)) bytes += piece.length;
  return bytes;
}

function isDecided(entry: Deferred): boolean {
  return entry.pieces !== null && (entry.commit === null || entry.commit.state !== "pending");
}

/** What `replies` replies waiting on `commit` become now that it settled (after its last retry). */
function settled(commit: Commit, pieces: ReplyPiece[], onFailure: OnFailure, replies: number): ReplyPiece[] {
  if (commit.state !== "failed" || onFailure === null) return pieces;
  return Array.from({ length: replies }, () => onFailure.reply(commit.error)).flat();
}
