/**
 * The text protocol's reads, as Kestrel 2's TextHandler does them: every fetch is transactional.
 *
 *   get <queue> [timeout]       confirm what this connection holds open on the queue, open the next item
 *   peek <queue> [timeout]      confirm the same, then show the head without taking it
 *   monitor <queue> <timeout>   confirm the same, then open items until max_open_transactions are open
 *   confirm <queue> <count>     confirm the `count` oldest open items (all or none)
 *
 * Timeouts are milliseconds to wait for an item (0 or less: none). An item opened here goes back
 * to the head of its queue if the connection closes before a later fetch or `confirm` settles
 * it. Confirming many (a connection may hold 100,000 open) runs over turns with the connection
 * suspended (commands/confirm.ts); the fetch or monitor behind the confirms starts once they are
 * all made, so its reply keeps its place. The reads are the command layer's (commands/); this
 * file parses and formats.
 */
import { monotonicMs } from "../../clock.ts";
import { allOf, type Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import { confirmReadsInTurns, type ConfirmOutcome } from "../commands/confirm.ts";
import { isFailure, type Failure } from "../commands/failure.ts";
import { startMonitor } from "../commands/monitor.ts";
import { checkQueueName } from "../commands/queue_commands.ts";
import { planReads, runReads, type ReadOutcome, type ReadRequest } from "../commands/read_items.ts";
import { replyInPlace } from "../commands/reply_in_place.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import type { Handover, OnFailure, ReplyPiece } from "../outbox.ts";
import {
  BAD_COUNT,
  BAD_TIMEOUT,
  NOT_THAT_MANY_OPEN,
  NO_ITEM,
  QUEUE_AND_COUNT_REQUIRED,
  QUEUE_AND_TIMEOUT_REQUIRED,
  QUEUE_NAME_REQUIRED,
  countReply,
  errorReply,
  itemReply,
  notAvailable,
} from "./text_replies.ts";

/** Items opened or taken whose records never reached the journal (the server stopped while it was failing). */
const FETCH_FAILED: OnFailure = { reply: (error) => [errorReply(error)] };
/** Confirms whose records never reached the journal. */
const CONFIRM_FAILED: OnFailure = { reply: (error) => [errorReply(error)] };

/**
 * `text` as Java's `Integer.parseInt` reads it (an optional sign, decimal digits, a 32-bit value),
 * or null where it would throw NumberFormatException.
 */
export function parseJavaInt(text: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(text)) return null;
  const value = Number(text);
  return value >= -0x8000_0000 && value <= 0x7fff_ffff ? value : null;
}

/** A command layer failure as a text error; `op` names what a status refusal refused, in Kestrel's words. */
export function failureReply(failure: Failure, op: string, refusedByStatus: boolean): string {
  return errorReply(refusedByStatus ? notAvailable(op) : failure.reason);
}

/** `get` (open the next item) or `peek` (look at it). */
export function fetch(args: readonly string[], session: Session, ctx: ServerContext, peek: boolean): void {
  const out = session.outbox;
  const [queue, timeoutText] = args;
  if (queue === undefined) return out.push(errorReply(QUEUE_NAME_REQUIRED));
  const timeout = timeoutText === undefined ? 0 : parseJavaInt(timeoutText);
  if (timeout === null) return out.push(errorReply(BAD_TIMEOUT));
  confirmAll(session, ctx, queue, (confirmed) => {
    if (isFailure(confirmed)) return out.push(errorReply(confirmed.reason));
    const request: ReadRequest = { queue, timeoutMs: Math.max(0, timeout), open: !peek, close: false, abort: false, peek };
    const plan = planReads([request], session, ctx);
    if (isFailure(plan)) return out.push(errorReply(plan.reason));
    replyInPlace(out, (reply) =>
      runReads(plan, session, ctx, (outcome) => {
        // A fetch that opens nothing still waits for the records of the confirms before it.
        const commit = confirmed === null ? outcome.commit : allOf([confirmed, outcome.commit]);
        reply(fetchReply(outcome), commit, FETCH_FAILED);
      }),
    );
  });
}

function fetchReply(outcome: ReadOutcome<ReadRequest>): ReplyPiece[] {
  if (outcome.refusal !== null) return [errorReply(notAvailable("getItem"))];
  const hit = outcome.hits[0];
  if (hit === undefined) return [NO_ITEM];
  // An item opened carries its mark (its open_transaction_timeout starts once the reply is out); one peeked at, none.
  return [...itemReply(hit.item.data), ...outcome.handovers];
}

/**
 * Confirms every item the session holds open on `queue` (over turns if they are many), then
 * calls `then` with the commit of their records, null if it held none, or why it could not (a
 * bad name, a journal that can't be written).
 */
function confirmAll(session: Session, ctx: ServerContext, queue: string, then: (confirmed: ConfirmOutcome) => void): void {
  const bad = checkQueueName(queue);
  if (bad !== null) return then(bad);
  confirmReadsInTurns(session, ctx, queue, "all", then);
}

/**
 * `monitor <queue> <timeout>`: confirms as a fetch does, then opens items until the connection
 * holds max_open_transactions open on the queue (Kestrel passes maxOpenReads as the limit), each
 * replied as it comes, then `*`.
 */
export function monitor(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [queue, timeoutText] = args;
  if (queue === undefined || timeoutText === undefined) return out.push(errorReply(QUEUE_AND_TIMEOUT_REQUIRED));
  const timeout = parseJavaInt(timeoutText);
  if (timeout === null) return out.push(errorReply(BAD_TIMEOUT));
  confirmAll(session, ctx, queue, (confirmed) => {
    if (isFailure(confirmed)) return out.push(errorReply(confirmed.reason));
    // Its replies wait for the confirms' records (sent even if those never reach the disk: the items
    // are redelivered after a restart at worst, and an error line would break the monitor's framing).
    if (confirmed !== null) out.pushPartAfter(confirmed, [], null);
    const events = {
      item: (item: Item, commit: Commit, delivered: Handover) => out.pushPartAfter(commit, [...itemReply(item.data), delivered], FETCH_FAILED),
      end: () => out.push(NO_ITEM),
    };
    const request = { queue, deadlineMs: monotonicMs() + timeout, maxItems: null };
    const refused = startMonitor(request, session, ctx, events, monotonicMs);
    if (refused !== null) out.push(failureReply(refused, "monitorUntil", ctx.status.readRefusal() !== null));
  });
}

/** `confirm <queue> <count>`: `+<count>`, or an error if fewer are open (then none is confirmed). */
export function confirm(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [queue, countText] = args;
  if (queue === undefined || countText === undefined) return out.push(errorReply(QUEUE_AND_COUNT_REQUIRED));
  const count = parseJavaInt(countText);
  if (count === null) return out.push(errorReply(BAD_COUNT));
  const bad = checkQueueName(queue);
  if (bad !== null) return out.push(errorReply(bad.reason));
  confirmReadsInTurns(session, ctx, queue, count, (confirmed) => {
    if (confirmed === null) return out.push(errorReply(NOT_THAT_MANY_OPEN));
    if (isFailure(confirmed)) return out.push(errorReply(confirmed.reason));
    out.pushAfter(confirmed, [countReply(count)], CONFIRM_FAILED);
  });
}
