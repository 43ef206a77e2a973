/**
 * Reads: take, open (reliable read), close, abort and peek, each with an optional wait, for one
 * request naming one or more queues; what a front end's `get` is made of.
 *
 * Reliable reads as Kestrel 2's memcache front end has them (KestrelHandler.scala): a connection
 * may hold up to the queue's max_open_transactions items open on it; `close` confirms the oldest
 * of them and `abort` returns the oldest to the head (closeRead/abortRead: one each, never all),
 * either accepted with nothing open; an `open` beyond the limit is refused (getItem's
 * TooManyOpenReadsException), and so is a plain take (no open, close, abort or peek) from a queue
 * with items open on the connection (MemcacheHandler's non-transactional fetch), both counting
 * what the close or abort of the same request and of earlier requests of this read will have
 * settled, so `q/close/open` at the limit and `q/close q` go through.
 *
 * Requests are served one after another; one that must wait for an item suspends the connection
 * until an item arrives or its deadline passes, so a connection's requests keep their order. So
 * does a read of many keys once the connection's budget for the turn is spent (connectionDeadline,
 * at least one key a slice): the rest are served in its next round, other clients in between.
 * Once the server is stopping (it ended every wait and asked the connection to quit), a request
 * of a read still going on finds nothing at once rather than wait. All
 * of them are checked before any is served: an invalid read changes nothing. The outcome carries
 * the commit of the journal records of what the read changed (removes, opens, confirms); its
 * reply must wait for it, so an item handed out before a crash is not handed out again after it.
 * Each item opened comes with its mark for the reply (open_reads.ts `handedOver`): its
 * open_transaction_timeout starts only once the reply reaches the socket, so however long the
 * read goes on (over turns, waiting on a later key), none of its items is put back meanwhile.
 * While a queue's journal can't be written, reads that would change it (take, open, close) are
 * refused: a removal that can't be recorded could be undone by a crash.
 *
 * Server status (status.ts): on a quiescent server a read that would take, open or peek at an
 * item is refused and hands nothing out. Its close and abort parts are still carried out, so a
 * client can always settle the item it holds and none is stranded open. A read waiting for an
 * item when the server becomes quiescent is ended the same way (the change releases every
 * waiter), and what its earlier requests took goes back to their queues.
 *
 * A read on an alias finds nothing, at once, whatever its options (an alias takes only sets, as in
 * Kestrel 2's QueueCollection.remove), and creates no queue.
 *
 * Bounds: a read stops taking items once its outcome holds REPLY_BUDGET bytes of item data (the
 * requests after that get nothing and their items stay queued; at least one item is always
 * served); and one read creates at most MAX_NEW_QUEUES queues.
 */
import { allOf, type Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import type { PersistentQueue } from "../../queue/persistent_queue.ts";
import type { ServerContext } from "../context.ts";
import { Handover } from "../outbox.ts";
import { badRequest, isFailure, unavailable, type Failure } from "./failure.ts";
import { handedOver } from "./open_reads.ts";
import { queueNamed } from "./queue_commands.ts";
import type { Session } from "./session.ts";
import { connectionDeadline, later, turnClock } from "../turn_scheduler.ts";

/** Item bytes one read's outcome may hold before it stops taking items. */
export const REPLY_BUDGET = 4 * 1024 * 1024;
/** Queues one read may create. */
export const MAX_NEW_QUEUES = 100;

/** What to do on one queue. Peek goes with none of open, close, abort; abort with neither open nor close. */
export interface ReadRequest {
  readonly queue: string;
  /** How long to wait for an item (0: not at all). */
  readonly timeoutMs: number;
  readonly open: boolean;
  readonly close: boolean;
  readonly abort: boolean;
  readonly peek: boolean;
}

/** An item handed out, and the request that got it. */
export interface Hit<R extends ReadRequest> {
  readonly request: R;
  readonly item: Item;
}

export interface ReadOutcome<R extends ReadRequest> {
  /** The items handed out, in request order (none if `refusal` is set). */
  readonly hits: ReadonlyArray<Hit<R>>;
  /**
   * Put after the reply: the items taken for good, given back if the reply never reaches the
   * client, and those opened, whose open_transaction_timeout starts once it has (`handedOver`).
   */
  readonly handovers: readonly Handover[];
  /** Why the server status refused the read (everything it took was put back), or null. */
  readonly refusal: string | null;
  /** The journal records of what the read changed: the reply waits for it. */
  readonly commit: Commit;
}

/** Reads checked and ready to run: each request with its queue. */
export interface ReadPlan<R extends ReadRequest> {
  readonly steps: ReadonlyArray<Step<R>>;
}

/**
 * Checks `requests`: returns the plan to run them with (`runReads`), or why they may not run
 * (then nothing changed). Creates the queues they name.
 */
export function planReads<R extends ReadRequest>(requests: readonly R[], session: Session, ctx: ServerContext): ReadPlan<R> | Failure {
  const created = newQueueCount(requests, ctx);
  if (created > MAX_NEW_QUEUES) {
    return badRequest(`a get may create at most ${MAX_NEW_QUEUES} queues; this one names ${created} that don't exist`);
  }
  const steps: Array<Step<R>> = [];
  /** Items open on each queue once the requests before this one are served (one request, nearly every get, needs no map). */
  const openAfter = requests.length > 1 ? new Map<PersistentQueue, number>() : null;
  for (const request of requests) {
    if (ctx.queues.isAlias(request.queue)) {
      steps.push({ request, queue: null });
      continue;
    }
    const queue = queueNamed(ctx, request.queue);
    if (isFailure(queue)) return queue;
    const openBefore = openAfter?.get(queue);
    if (openBefore === undefined) session.openReads.forgetTimedOut(queue);
    const held = openBefore ?? session.openReads.count(queue);
    let open = request.close || request.abort ? Math.max(0, held - 1) : held;
    if (request.open) {
      const limit = queue.settings.maxOpenTransactions;
      if (open >= limit) return tooManyOpen(request.queue, limit);
      open++;
    } else if (open > 0 && !request.close && !request.abort && !request.peek) {
      return takeWhileOpen(request.queue);
    }
    openAfter?.set(queue, open);
    const failure = journalRefusal(request, queue, held > 0);
    if (failure !== null) return unavailable(failure);
    steps.push({ request, queue });
  }
  return { steps };
}

/** How many queues `requests` name that don't exist yet (and are not aliases). */
function newQueueCount(requests: readonly ReadRequest[], ctx: ServerContext): number {
  // One request (nearly every get): no set of names to build.
  if (requests.length === 1) return isNewQueue(requests[0]!.queue, ctx) ? 1 : 0;
  return newQueueNames(requests, ctx).length;
}

/** The queues `requests` name that don't exist yet (and are not aliases), each once. */
export function newQueueNames(requests: readonly ReadRequest[], ctx: ServerContext): string[] {
  return [...new Set(requests.map((request) => request.queue))].filter((name) => isNewQueue(name, ctx));
}

function isNewQueue(name: string, ctx: ServerContext): boolean {
  return ctx.queues.get(name) === undefined && !ctx.queues.isAlias(name);
}

/**
 * The commonest reads served without a plan: one plain take (no open, close, abort or peek), or
 * one reliable read (`open`, or `close/open`: confirm the oldest item open here, open the next),
 * from a queue that exists, can be written and read, on a server that serves reads, with an item
 * now, and nothing open here that the general way would refuse (a plain take with an item open,
 * an open past max_open_transactions). Its outcome is what `planReads` and `runReads` would give;
 * null when the read needs them (nothing was changed or counted then).
 */
export function takeAtOnce<R extends ReadRequest>(request: R, session: Session, ctx: ServerContext): ReadOutcome<R> | null {
  if (request.abort || request.peek || (request.close && !request.open)) return null;
  const queue = ctx.queues.get(request.queue);
  if (queue === undefined || queue.journalFailure !== null || queue.readFailure !== null) return null;
  session.openReads.forgetTimedOut(queue);
  const held = session.openReads.count(queue);
  const refused = request.open ? (request.close ? Math.max(0, held - 1) : held) >= queue.settings.maxOpenTransactions : held > 0;
  if (refused || ctx.status.readRefusal() !== null) return null;
  const now = Date.now();
  if (!request.open) return takenAtOnce(request, queue, queue.remove(now), ctx);
  // The close must not happen unless the open is served: look first.
  if (queue.peek(now) === undefined) return null;
  if (request.close) {
    const oldest = session.openReads.takeOldestOne(queue);
    if (oldest !== undefined) queue.confirm(oldest);
  }
  const item = queue.open(now)!;
  session.openReads.add(queue, item);
  return servedAtOnce(request, queue, item, [handedOver(queue, item)], ctx);
}

/** A plain take's outcome: the item, with how to give it back if the reply never leaves. */
function takenAtOnce<R extends ReadRequest>(request: R, queue: PersistentQueue, item: Item | undefined, ctx: ServerContext): ReadOutcome<R> | null {
  if (item === undefined) return null;
  return servedAtOnce(request, queue, item, [new Handover(() => queue.giveBack(item, Date.now()))], ctx);
}

function servedAtOnce<R extends ReadRequest>(request: R, queue: PersistentQueue, item: Item, handovers: Handover[], ctx: ServerContext): ReadOutcome<R> {
  ctx.stats.cmdGet++;
  ctx.stats.getHits++;
  return { hits: [{ request, item }], handovers, refusal: null, commit: queue.commit };
}

/**
 * Serves a plan: `finish` gets the outcome, at once or (after a wait, with the session suspended
 * meanwhile) later; the session is resumed after it.
 */
export function runReads<R extends ReadRequest>(plan: ReadPlan<R>, session: Session, ctx: ServerContext, finish: (outcome: ReadOutcome<R>) => void): void {
  new ReadRun(plan.steps, session, ctx, finish).continue();
}

interface Step<R extends ReadRequest> {
  readonly request: R;
  /** Null for an alias. */
  readonly queue: PersistentQueue | null;
}

/** An open beyond the queue's max_open_transactions: refused, as Kestrel refuses it (KestrelHandler.getItem). */
function tooManyOpen(queue: string, limit: number): Failure {
  return { kind: "open-reads", reason: `${limit} item(s) already open on '${queue}' (max_open_transactions); close or abort one first` };
}

/**
 * A plain take from a queue the connection holds items open on: refused, as Kestrel refuses a
 * "non-transactional fetch with an open transaction" (MemcacheHandler.get), since a client
 * mixing the two has usually lost track of what it holds.
 */
function takeWhileOpen(queue: string): Failure {
  return { kind: "open-reads", reason: `an item is open on '${queue}' on this connection; close or abort it before a plain get` };
}

/**
 * Why `request` can't be served now, or null: one that changes the queue (take, open, close)
 * needs its journal written, one that looks at the head (take, open, peek) needs it readable.
 */
function journalRefusal(request: ReadRequest, queue: PersistentQueue, holdsOpenItem: boolean): string | null {
  if (request.abort) return null;
  const closeOnly = request.close && !request.open;
  const changes = !request.peek && (!closeOnly || holdsOpenItem);
  return (changes ? queue.journalFailure : null) ?? (closeOnly ? null : queue.readFailure);
}

class ReadRun<R extends ReadRequest> {
  private readonly hits: Array<Hit<R>> = [];
  /** For each item taken for good: how to put it back if the reply never reaches the client; for each opened: its mark (`handedOver`). */
  private readonly handovers: Handover[] = [];
  /** How to undo each take and open of this read, in the order they happened. */
  private readonly undo: Array<() => void> = [];
  /** Queues whose journals this read appended to. */
  private readonly changed: PersistentQueue[] = [];
  private index = 0;
  private waited = false;
  /** Item bytes handed out so far. */
  private itemBytes = 0;
  /** Why the server status refuses this read, once it does. */
  private refusedBecause: string | null = null;

  constructor(
    private readonly steps: ReadonlyArray<Step<R>>,
    private readonly session: Session,
    private readonly ctx: ServerContext,
    private readonly finish: (outcome: ReadOutcome<R>) => void,
  ) {}

  continue(): void {
    const until = connectionDeadline();
    const first = this.index;
    for (; this.index < this.steps.length; this.index++) {
      if (this.index > first && turnClock.now() >= until) return this.goOnLater();
      const { request, queue } = this.steps[this.index]!;
      if (queue === null) this.readAlias(request);
      else if (!this.serveNow(request, queue)) return this.wait(request, queue);
    }
    if (this.refusedBecause !== null) this.refuse();
    const commit = this.changed.length === 1 ? this.changed[0]!.commit : allOf(this.changed.map((queue) => queue.commit));
    this.finish({ hits: this.hits, handovers: this.handovers, refusal: this.refusedBecause, commit });
    if (this.waited) this.session.resume();
  }

  /** A read on an alias: nothing to close or abort, no item, no wait. */
  private readAlias(request: R): void {
    this.countCommand(request);
    if (request.abort || (request.close && !request.open)) return;
    this.refusedBecause ??= this.ctx.status.readRefusal();
    if (this.refusedBecause === null) this.ctx.stats.getMisses++;
  }

  private countCommand(request: R): void {
    if (request.peek) this.ctx.stats.cmdPeek++;
    else this.ctx.stats.cmdGet++;
  }

  /** Serves one request; false when it has to wait for an item. */
  private serveNow(request: R, queue: PersistentQueue): boolean {
    const now = Date.now();
    this.countCommand(request);
    if (request.close || request.abort) {
      const open = this.session.openReads.takeOldestOne(queue);
      if (open !== undefined && request.close) {
        this.markChanged(queue);
        queue.confirm(open);
      } else if (open !== undefined) {
        // An abort needs no wait: if its record is lost, the open item comes back all the same.
        queue.abort(open, now);
      }
    }
    if (request.abort || (request.close && !request.open)) return true;
    this.refusedBecause ??= this.ctx.status.readRefusal();
    if (this.refusedBecause !== null) return true;
    // The outcome is full: this request gets nothing now, its items stay queued.
    if (this.itemBytes >= REPLY_BUDGET) return true;
    const item = request.peek ? queue.peek(now) : request.open ? queue.open(now) : queue.remove(now);
    if (item !== undefined) {
      this.hit(request, queue, item);
      return true;
    }
    // The server is stopping (it ended every wait): one begun now would hold the reply until the connection is given up.
    if (request.timeoutMs > 0 && !queue.isDeleted && !this.session.quitting) return false;
    this.ctx.stats.getMisses++;
    return true;
  }

  private wait(request: R, queue: PersistentQueue): void {
    const mode = request.peek ? "peek" : request.open ? "open" : "remove";
    const cancel = queue.wait(mode, request.timeoutMs, (item) =>
      this.session.continueSafely("serving a read after its wait", () => {
        if (item !== null) this.hit(request, queue, item);
        else if ((this.refusedBecause = this.ctx.status.readRefusal()) === null) this.ctx.stats.getMisses++;
        this.index++;
        this.continue();
      }),
    );
    this.waited = true;
    // The client may leave while this waits, or the read be given up (a bug in it, Session.continueSafely):
    // the items already taken go back to their queues, and those opened are aborted, so a client
    // still connected can't confirm an item it never saw.
    this.session.suspend(() => {
      cancel();
      for (const undo of this.undo.toReversed()) undo();
    });
  }

  /**
   * The connection's budget for the turn is spent with keys left: the rest are served in its next
   * round (turn_scheduler.ts `later`), the connection suspended meanwhile, as behind a wait, and
   * what the read took so far given back if it is given up.
   */
  private goOnLater(): void {
    let cancelled = false;
    later(() => {
      if (!cancelled) this.session.continueSafely("continuing a read of many keys", () => this.continue());
    });
    this.waited = true;
    this.session.suspend(() => {
      cancelled = true;
      for (const undo of this.undo.toReversed()) undo();
    });
  }

  /** Puts back what this read took: taken items to the head of their queues, items it opened as aborted (the client never learns of them). */
  private refuse(): void {
    for (const undo of this.undo.toReversed()) undo();
    this.hits.length = 0;
    this.handovers.length = 0;
  }

  private markChanged(queue: PersistentQueue): void {
    if (!this.changed.includes(queue)) this.changed.push(queue);
  }

  private hit(request: R, queue: PersistentQueue, item: Item): void {
    this.ctx.stats.getHits++;
    this.itemBytes += item.data.length;
    if (!request.peek) this.markChanged(queue);
    if (request.open) {
      this.session.openReads.add(queue, item);
      this.handovers.push(handedOver(queue, item));
      this.undo.push(() => {
        // A later request of this read may have closed it already.
        if (this.session.openReads.remove(queue, item)) queue.abort(item, Date.now());
      });
    } else if (!request.peek) {
      const handover = new Handover(() => queue.giveBack(item, Date.now()));
      this.handovers.push(handover);
      this.undo.push(handover.giveBack);
    }
    this.hits.push({ request, item });
  }
}
