/**
 * `monitor <queue> <seconds> [max_items]` and `confirm <queue> <count>` in memcache terms, as
 * Kestrel 2's MemcacheHandler has them: a monitor answers `VALUE <queue> <flags> <bytes>` for each
 * item as it is opened (commands/monitor.ts says until when), then `END`; `max_items` defaults to
 * the queue's max_open_transactions. `confirm` answers `END` once the items are confirmed, or
 * `ERROR` when it confirmed none (fewer than `count` open, or `count` 0 or below). A big monitor
 * or confirm runs over turns with the connection suspended, its replies in their place
 * (commands/monitor.ts, commands/confirm.ts). Numbers are read as Kestrel reads them (any
 * integer: negative seconds end a monitor at once, negative max_items mean the open limit) and
 * words after the last argument are ignored, as Kestrel ignores them; arguments that are missing
 * or not integers get CLIENT_ERROR, and the connection stays open.
 */
import { monotonicMs } from "../../clock.ts";
import type { Commit } from "../../journal/commit.ts";
import type { Item } from "../../journal/item.ts";
import { confirmReadsInTurns } from "../commands/confirm.ts";
import { isFailure } from "../commands/failure.ts";
import { startMonitor } from "../commands/monitor.ts";
import { checkQueueName } from "../commands/queue_commands.ts";
import type { Session } from "../commands/session.ts";
import type { ServerContext } from "../context.ts";
import type { Handover } from "../outbox.ts";
import { GET_FAILED } from "./get_command.ts";
import { MAX_WAIT_MS } from "./get_options.ts";
import { END, ERROR, clientError, failure, value } from "./replies.ts";

const MONITOR_USAGE = clientError("usage: monitor <queue> <seconds> [max_items]");
const CONFIRM_USAGE = clientError("usage: confirm <queue> <count>");

export function handleMonitor(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [queue, secondsText, maxItemsText] = args;
  if (queue === undefined || secondsText === undefined) return out.push(MONITOR_USAGE);
  const badName = checkQueueName(queue);
  if (badName !== null) return out.push(failure(badName));
  const seconds = integer(secondsText);
  const maxItemsGiven = maxItemsText === undefined ? null : integer(maxItemsText);
  if (seconds === null || (maxItemsGiven === null && maxItemsText !== undefined)) return out.push(MONITOR_USAGE);
  const maxItems = maxItemsGiven !== null && maxItemsGiven < 0 ? null : maxItemsGiven;
  const request = { queue, deadlineMs: monotonicMs() + Math.min(Math.max(seconds, 0) * 1000, MAX_WAIT_MS), maxItems };
  const events = {
    item: (item: Item, commit: Commit, delivered: Handover) => out.pushPartAfter(commit, [...value(queue, item, false), delivered], GET_FAILED),
    end: () => out.push(END),
  };
  const refused = startMonitor(request, session, ctx, events, monotonicMs);
  if (refused !== null) out.push(failure(refused));
}

export function handleConfirm(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  const [queue, countText] = args;
  if (queue === undefined || countText === undefined) return out.push(CONFIRM_USAGE);
  const badName = checkQueueName(queue);
  if (badName !== null) return out.push(failure(badName));
  const count = integer(countText);
  if (count === null) return out.push(CONFIRM_USAGE);
  confirmReadsInTurns(session, ctx, queue, count, (confirmed) => {
    if (confirmed === null) return out.push(ERROR);
    if (isFailure(confirmed)) return out.push(failure(confirmed));
    out.pushAfter(confirmed, [END], GET_FAILED);
  });
}

/** `text` as an integer (decimal digits, maybe a minus sign), or null. */
function integer(text: string): number | null {
  return /^-?\d{1,15}$/.test(text) ? Number(text) : null;
}
