/**
 * Runs one text-protocol request, as Kestrel 2's `TextHandler.handle` does (TextHandler.scala:
 * 134-257): the command layer's operations (commands/), replies in the text shapes
 * (text_replies.ts). Reads are text_reads.ts. Replies go to the session's outbox in request order;
 * a put's `+<count>` waits for the journal records of its items.
 */
import { allOf } from "../../journal/commit.ts";
import { checkQueueName, deleteQueue, flushQueue } from "../commands/queue_commands.ts";
import { changeStatus, currentStatus, shutdown } from "../commands/server_commands.ts";
import type { Session } from "../commands/session.ts";
import { setItemsInTurns } from "../commands/set_in_turns.ts";
import type { ServerContext } from "../context.ts";
import type { OnFailure } from "../outbox.ts";
import { parseStatus } from "../status.ts";
import { admitText } from "./text_admission.ts";
import type { TextRequest } from "./text_parser.ts";
import { confirm, failureReply, fetch, monitor, parseJavaInt } from "./text_reads.ts";
import {
  BAD_EXPIRATION,
  QUEUE_NAME_REQUIRED,
  STATUS_FORBIDDEN,
  UNKNOWN_STATUS,
  countReply,
  errorReply,
  stringReply,
  unknownCommand,
} from "./text_replies.ts";

/**
 * What a reply waiting on a commit that failed says instead, why: items whose records never
 * reached the journal (the server stopped while it was failing: not stored), a flush whose new
 * journal state could not be written.
 */
const COMMIT_FAILED: OnFailure = { reply: (error) => [errorReply(error)] };
const DONE = countReply(0);

export function executeText(request: TextRequest, session: Session, ctx: ServerContext): void {
  if (!admitText(request, session, ctx)) return;
  const out = session.outbox;
  const { command, args } = request;
  switch (command) {
    case "put":
      return put(request, session, ctx);
    case "get":
    case "peek":
      return fetch(args, session, ctx, command === "peek");
    case "monitor":
      return monitor(args, session, ctx);
    case "confirm":
      return confirm(args, session, ctx);
    case "flush":
      return withQueue(args, session, (queue) => out.pushAfter(flushQueue(ctx, queue), [DONE], COMMIT_FAILED));
    case "delete":
      // Answered once nothing of the queue can come back (its journal's retire, off the event loop).
      return withQueue(args, session, (queue) => out.pushAfter(deleteQueue(ctx, queue), [DONE], null));
    case "status":
      return status(args, session, ctx);
    case "version":
      return out.push(stringReply(ctx.version));
    case "shutdown":
      out.push(DONE);
      return shutdown(ctx, session);
    case "quit":
      // Kestrel closes the connection before its `+0` can be written: no reply.
      return session.quit();
    default:
      out.push(errorReply(unknownCommand(command)));
  }
}

/**
 * `put <queue> [expiration]:` and its items: each added in order, `+<count>` of those stored (a
 * full queue or an item over max_item_size is not counted). The expiration is milliseconds from
 * now. A failure (the server status, a bad queue name, a journal that can't be written) stops at
 * that item: the reply is the count so far, or the error if nothing was stored. Many items are
 * added over several turns, the connection waiting meanwhile (set_in_turns.ts).
 */
function put(request: TextRequest, session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [queue, expiryText] = request.args;
  if (queue === undefined) return out.push(errorReply(QUEUE_NAME_REQUIRED));
  const expiryMs = expiryText === undefined ? null : parseJavaInt(expiryText);
  if (expiryMs === null && expiryText !== undefined) return out.push(errorReply(BAD_EXPIRATION));
  const now = Date.now();
  const expiry = expiryMs === null ? 0 : now + expiryMs;
  setItemsInTurns(ctx, session, queue, request.items, expiry, now, ({ stored, failure }) => {
    if (failure !== null && stored.length === 0) {
      return out.push(failureReply(failure, "setItem", failure.kind === "unavailable" && ctx.status.writeRefusal() !== null));
    }
    out.pushAfter(allOf(stored), [countReply(stored.length)], COMMIT_FAILED);
  });
}

/** `status` replies `:<STATUS>`; `status <new>` changes it (admin only) and replies `+0`. */
function status(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [next] = args;
  if (next === undefined) return out.push(stringReply(currentStatus(ctx).toUpperCase()));
  // Kestrel's messages for what is not a status to set: DOWN is one, but forbidden.
  if (parseStatus(next) === null) return out.push(errorReply(next.toLowerCase() === "down" ? STATUS_FORBIDDEN : UNKNOWN_STATUS));
  const failed = changeStatus(ctx, session, next);
  out.push(failed === null ? DONE : errorReply(failed.reason));
}

/** Commands of the form `<command> <queue>`: `Queue name required.` without one. */
function withQueue(args: readonly string[], session: Session, run: (queue: string) => void): void {
  const [queue] = args;
  if (queue === undefined) return session.outbox.push(errorReply(QUEUE_NAME_REQUIRED));
  const bad = checkQueueName(queue);
  if (bad !== null) return session.outbox.push(errorReply(bad.reason));
  run(queue);
}
