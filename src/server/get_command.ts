/**
 * `get`/`gets`: dequeue, reliable reads (open/close/abort), peek and blocking waits.
 *
 * Keys are served one after another; a key with `t=` and an empty queue suspends the connection
 * until an item arrives or the deadline passes, so requests on one connection keep their order.
 * A key repeated in one get (the same string, options included) is served once: clients match
 * VALUE lines to the keys they asked for and keep one per key, so a second item under the same
 * key would be lost. Keys that differ at all (`q` and `q/peek`) each get their VALUE line.
 * All keys are checked before any is served: an invalid request changes nothing. The reply leaves
 * only once the journal records of what it changed (removes, opens, confirms) are written, so an
 * item handed out before a crash is not handed out again after it. While a queue's journal can't
 * be written, gets that would change it (take, open, close) are refused with SERVER_ERROR: a
 * removal that can't be recorded could be undone by a crash. If a write fails after the items
 * were taken, the reply waits for the writer's retry (see `Commit.retry`).
 *
 * Server status (status.ts): on a quiescent server a get that would take, open or peek at an item
 * is refused with SERVER_ERROR and hands nothing out. Its close and abort parts are still carried
 * out, so a client can always settle the item it holds and none is stranded open. A get waiting
 * for an item when the server becomes quiescent is ended the same way (the change releases every
 * waiter), and what earlier keys of it took goes back to their queues.
 *
 * Bounds: a get stops taking items once its reply holds REPLY_BUDGET bytes of item data (the
 * keys after that get nothing and their items stay queued; at least one item is always served),
 * so a `get q q/t=1 q/t=2 ...` over items waiting on disk can't read them all into one reply; and one
 * get creates at most MAX_NEW_QUEUES queues.
 */
import { allOf } from "../journal/commit.ts";
import type { Item } from "../journal/item.ts";
import type { PersistentQueue } from "../queue/persistent_queue.ts";
import { QueueUnavailableError } from "../queue/queue_collection.ts";
import type { ServerContext, Session } from "./context.ts";
import { parseGetKey, type GetRequest } from "./get_options.ts";
import { Handover, type Deferred, type OnFailure, type ReplyPiece } from "./outbox.ts";
import { END, ERROR, clientError, serverError, value } from "./replies.ts";

/** Item bytes one get's reply may hold before it stops taking items. */
export const REPLY_BUDGET = 4 * 1024 * 1024;
/** Queues one get may create. */
export const MAX_NEW_QUEUES = 100;

/** `withCas`: a `gets`, whose VALUE lines carry the cas unique. */
export function handleGet(keys: readonly string[], session: Session, ctx: ServerContext, withCas: boolean): void {
  if (keys.length === 0) {
    session.outbox.push(ERROR);
    return;
  }
  const parsed: GetRequest[] = [];
  for (const key of new Set(keys)) {
    const request = parseGetKey(key);
    if (typeof request === "string") return session.outbox.push(clientError(request));
    parsed.push(request);
  }
  const created = new Set(parsed.map((request) => request.queue).filter((name) => ctx.queues.get(name) === undefined)).size;
  if (created > MAX_NEW_QUEUES) {
    return session.outbox.push(clientError(`a get may create at most ${MAX_NEW_QUEUES} queues; this one names ${created} that don't exist`));
  }
  const requests: Array<{ request: GetRequest; queue: PersistentQueue }> = [];
  /** Queues an earlier key of this get opens an item on: a second open there would overwrite it. */
  const opening = new Set<PersistentQueue>();
  for (const request of parsed) {
    let queue: PersistentQueue;
    try {
      queue = ctx.queues.getOrCreate(request.queue);
    } catch (error) {
      if (error instanceof QueueUnavailableError) return session.outbox.push(serverError(error.message));
      throw error;
    }
    forgetTimedOut(session, queue);
    if (request.open && !request.close && (session.openItems.has(queue) || opening.has(queue))) {
      return session.outbox.push(clientError(`an item is already open on '${request.queue}'; close or abort it first`));
    }
    if (request.open) opening.add(queue);
    const failure = refusal(request, queue, session.openItems.has(queue));
    if (failure !== null) return session.outbox.push(serverError(failure));
    requests.push({ request, queue });
  }
  new GetRun(requests, session, ctx, withCas).continue();
}

/**
 * Drops this connection's open item on `queue` if it is open no more: it timed out
 * (open_transaction_timeout) and went back to the queue. The connection holds nothing there now,
 * so it may open again, and its close or abort settles nothing.
 */
function forgetTimedOut(session: Session, queue: PersistentQueue): void {
  const item = session.openItems.get(queue);
  if (item !== undefined && !queue.isOpen(item)) session.openItems.delete(queue);
}

/**
 * Items taken whose removal did not reach the journal: wait for the retry; if there is none (the
 * server is stopping with the disk still failing), the client gets an error and the items come
 * back at the next start.
 */
const GET_FAILED: OnFailure = { waitForRetry: true, reply: (error) => [serverError(error)] };

/**
 * Why `request` can't be served now, or null: one that changes the queue (take, open, close)
 * needs its journal written, one that looks at the head (take, open, peek) needs it readable.
 */
function refusal(request: GetRequest, queue: PersistentQueue, hasOpenItem: boolean): string | null {
  if (request.abort) return null;
  const closeOnly = request.close && !request.open;
  const changes = !request.peek && (!closeOnly || hasOpenItem);
  return (changes ? queue.journalFailure : null) ?? (closeOnly ? null : queue.readFailure);
}

class GetRun {
  private readonly replies: ReplyPiece[] = [];
  /** For each item taken for good: how to put it back if the reply never reaches the client. */
  private readonly handovers: Handover[] = [];
  /** How to undo each take and open of this get, in the order they happened. */
  private readonly undo: Array<() => void> = [];
  /** Queues whose journals this get appended to. */
  private readonly changed: PersistentQueue[] = [];
  private index = 0;
  private deferred: Deferred | null = null;
  /** Item bytes in the reply so far. */
  private replyBytes = 0;
  /** Why the server status refuses this get's reads, once it does. */
  private refusedBecause: string | null = null;

  constructor(
    private readonly requests: ReadonlyArray<{ request: GetRequest; queue: PersistentQueue }>,
    private readonly session: Session,
    private readonly ctx: ServerContext,
    private readonly withCas: boolean,
  ) {}

  continue(): void {
    for (; this.index < this.requests.length; this.index++) {
      const { request, queue } = this.requests[this.index]!;
      if (!this.serveNow(request, queue)) return this.wait(request, queue);
    }
    if (this.refusedBecause === null) this.replies.push(END, ...this.handovers);
    else this.refuse(this.refusedBecause);
    // A failed journal write doesn't withhold the items (onFailure null): they are out of the
    // queue already, and the kept records are written when the disk recovers.
    const commit = this.changed.length === 1 ? this.changed[0]!.commit : allOf(this.changed.map((queue) => queue.commit));
    if (this.deferred === null) return this.session.outbox.pushAfter(commit, this.replies, GET_FAILED);
    this.session.outbox.resolve(this.deferred, this.replies, commit, GET_FAILED);
    this.session.resume();
  }

  /** Serves one key; false when it has to wait for an item. */
  private serveNow(request: GetRequest, queue: PersistentQueue): boolean {
    const now = Date.now();
    if (request.peek) this.ctx.stats.cmdPeek++;
    else this.ctx.stats.cmdGet++;
    const open = this.session.openItems.get(queue);
    if (open !== undefined && (request.close || request.abort)) {
      this.session.openItems.delete(queue);
      if (request.close) {
        this.markChanged(queue);
        queue.confirm(open);
      } else {
        // An abort needs no wait: if its record is lost, the open item comes back all the same.
        queue.abort(open, now);
      }
    }
    if (request.abort || (request.close && !request.open)) return true;
    this.refusedBecause ??= this.ctx.status.readRefusal();
    if (this.refusedBecause !== null) return true;
    // The reply is full: this key gets nothing now, its items stay queued.
    if (this.replyBytes >= REPLY_BUDGET) return true;
    const item = request.peek ? queue.peek(now) : request.open ? queue.open(now) : queue.remove(now);
    if (item !== undefined) {
      this.hit(request, queue, item);
      return true;
    }
    if (request.timeoutMs > 0 && !queue.isDeleted) return false;
    this.ctx.stats.getMisses++;
    return true;
  }

  private wait(request: GetRequest, queue: PersistentQueue): void {
    const mode = request.peek ? "peek" : request.open ? "open" : "remove";
    const cancel = queue.wait(mode, request.timeoutMs, (item) => {
      if (item !== null) this.hit(request, queue, item);
      else if ((this.refusedBecause = this.ctx.status.readRefusal()) === null) this.ctx.stats.getMisses++;
      this.index++;
      this.continue();
    });
    if (this.deferred === null) this.deferred = this.session.outbox.defer();
    // The client may leave while this waits: the items already taken for earlier keys go back.
    this.session.suspend(() => {
      cancel();
      for (const handover of this.handovers.toReversed()) handover.giveBack();
    });
  }

  /**
   * Replaces the reply by SERVER_ERROR `reason` and puts back what this get took: taken items to
   * the head of their queues, items it opened as aborted (the client never learns of them).
   */
  private refuse(reason: string): void {
    for (const undo of this.undo.toReversed()) undo();
    this.replies.length = 0;
    this.replies.push(serverError(reason));
  }

  private markChanged(queue: PersistentQueue): void {
    if (!this.changed.includes(queue)) this.changed.push(queue);
  }

  private hit(request: GetRequest, queue: PersistentQueue, item: Item): void {
    this.ctx.stats.getHits++;
    this.replyBytes += item.data.length;
    if (!request.peek) this.markChanged(queue);
    if (request.open) {
      this.session.openItems.set(queue, item);
      this.undo.push(() => {
        if (this.session.openItems.get(queue) !== item) return; // a later key of this get closed it
        this.session.openItems.delete(queue);
        queue.abort(item, Date.now());
      });
    } else if (!request.peek) {
      const handover = new Handover(() => queue.giveBack(item, Date.now()));
      this.handovers.push(handover);
      this.undo.push(handover.giveBack);
    }
    this.replies.push(...value(request.key, item, this.withCas));
  }
}
