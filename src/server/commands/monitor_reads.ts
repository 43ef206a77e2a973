/**
 * `monitor`: opens items from one queue, one after another, until `maxItems` are open, the
 * deadline passes, no item comes in time, or the connection holds as many open on the queue as
 * max_open_transactions allows (Kestrel 2's `monitorUntil`, KestrelHandler.scala:206-250). Each
 * item is replied as soon as it is opened; the end is its own reply. A front end gives the
 * shapes (a text `:item` ... `*`, a memcache `VALUE` ... `END`); the reads are read_items.ts's.
 *
 * Invariants: the replies keep the monitor's place in the connection's reply order, the session
 * stays suspended while it waits, and each item's reply waits for the journal record of its open.
 * A refusal before the first read (the server status, a journal that can't be written) replaces
 * the whole reply, as Kestrel's `checkBlockReads` threw before the loop; a refusal later only ends
 * the monitor (Kestrel's `safeCheckBlockReads`). Like Kestrel, a deadline already passed ends it
 * before any read: `monitor` with no time to wait hands out nothing. Its replies stop taking items once they hold
 * REPLY_BUDGET bytes (at least one item is always served), so a large max_open_transactions
 * can't make one request fill memory.
 */
import type { Item } from "../../journal/item.ts";
import type { OnFailure, ReplyPiece } from "../outbox.ts";
import type { ServerContext } from "../context.ts";
import { isFailure, unavailable, type Failure } from "./failure.ts";
import { REPLY_BUDGET, planReads, runReads, type ReadRequest } from "./read_items.ts";
import { replyInPlace } from "./reply_in_place.ts";
import type { Session } from "./session.ts";

/** How a front end writes a monitor's replies. */
export interface MonitorReplies {
  item(item: Item): ReplyPiece[];
  /** After the last item (or none). */
  readonly end: ReplyPiece[];
  /** Instead of everything: the first read was refused (`status`: by the server status). */
  refused(failure: Failure, status: boolean): ReplyPiece[];
  /** An item whose open record did not reach the journal. */
  readonly onFailure: OnFailure;
}

/** Monitors `queueName` for up to `timeoutMs` (from now) and at most `maxItems` items. */
export function monitorReads(session: Session, ctx: ServerContext, queueName: string, timeoutMs: number, maxItems: number, replies: MonitorReplies): void {
  const refusal = ctx.status.readRefusal();
  if (refusal !== null) return session.outbox.push(...replies.refused(unavailable(refusal), true));
  new MonitorRun(session, ctx, queueName, Date.now() + timeoutMs, replies).step(maxItems, true);
}

class MonitorRun {
  private itemBytes = 0;

  constructor(
    private readonly session: Session,
    private readonly ctx: ServerContext,
    private readonly queue: string,
    /** Wall-clock ms, as queue waits measure from Date.now(). */
    private readonly deadline: number,
    private readonly replies: MonitorReplies,
  ) {}

  /** Opens the next item, or ends; `first`: nothing was replied yet. */
  step(itemsLeft: number, first: boolean): void {
    const outbox = this.session.outbox;
    const timeoutMs = this.deadline - Date.now();
    if (itemsLeft <= 0 || this.itemBytes >= REPLY_BUDGET || timeoutMs <= 0) return outbox.push(...this.replies.end);
    const request: ReadRequest = { queue: this.queue, timeoutMs, open: true, close: false, abort: false, peek: false };
    const plan = planReads([request], this.session, this.ctx);
    if (isFailure(plan)) {
      // As many open as allowed: the monitor is over, not refused (Kestrel's monitorLoop).
      return outbox.push(...(first && plan.kind !== "too-many-open" ? this.replies.refused(plan, false) : this.replies.end));
    }
    replyInPlace(outbox, (reply) =>
      runReads(plan, this.session, this.ctx, (outcome) => {
        const hit = outcome.hits[0];
        // Nothing came in time, or the status came to refuse reads meanwhile: the monitor is over.
        if (hit === undefined) return reply(this.replies.end, outcome.commit, null);
        this.itemBytes += hit.item.data.length;
        reply(this.replies.item(hit.item), outcome.commit, this.replies.onFailure);
        this.step(itemsLeft - 1, false);
      }),
    );
  }
}
