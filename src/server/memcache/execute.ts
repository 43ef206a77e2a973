/**
 * Executes one memcache request frame for a connection: parses its arguments, runs the command
 * layer's operation (commands/) and formats what it returns. `get` is get_command.ts, `monitor`
 * and `confirm` monitor_command.ts. Replies go
 * to the session's outbox in request order; a STORED waits for the journal write of its item, a
 * DELETED until nothing of the queue can come back (its journal's retire, off the event loop).
 */
import { SERVER_STATUSES } from "../../config/schema.ts";
import { isFailure, type Failure } from "../commands/failure.ts";
import { checkQueueName, deleteQueue, flushAllInTurns, flushExpiredInTurns, flushQueue } from "../commands/queue_commands.ts";
import { changeStatus, currentStatus, reloadConfig, shutdown } from "../commands/server_commands.ts";
import type { Session } from "../commands/session.ts";
import { feedMark, feedStartedSince, holdWhileFed, isStored, setItem, type SetOutcome } from "../commands/set_item.ts";
import type { ServerContext } from "../context.ts";
import type { OnFailure } from "../outbox.ts";
import { admit, type CommandFrame } from "./admission.ts";
import { handleGet } from "./get_command.ts";
import { handleConfirm, handleMonitor } from "./monitor_command.ts";
import * as reply from "./replies.ts";
import { streamConfig, streamNamedStats, streamReport } from "./reports.ts";
import type { Frame, SetFrame } from "./request_parser.ts";

/** Memcache expiry: 0 never; below 1,000,000 seconds from now; otherwise unix seconds. */
export function expiryFromExptime(exptime: number, now: number): number {
  if (exptime === 0) return 0;
  if (exptime < 0) return 1;
  return exptime < 1_000_000 ? now + exptime * 1000 : exptime * 1000;
}

export function execute(frame: CommandFrame, session: Session, ctx: ServerContext): void {
  if (!admit(frame, session, ctx)) return;
  switch (frame.kind) {
    case "set":
      return handleSet(frame, session, ctx);
    case "unsupported-storage":
      if (!frame.noreply) session.outbox.push(reply.ERROR);
      return;
    case "bad-request":
      if (!frame.noreply) session.outbox.push(reply.line(frame.reply));
      return;
    case "line":
      return executeLine(frame.command, frame.args, session, ctx);
  }
}

const STORED_REPLY = [reply.STORED];
/** A flush or flush_all answers once its journals' new state is written. */
const FLUSHED_REPLY = [reply.END];
const FLUSHED_ALL_REPLY = [reply.FLUSHED_ALL];
/** A delete answers once nothing of the queue can come back (its journal's retire, off the event loop). */
const DELETED_REPLY = [reply.DELETED];
/**
 * What a reply waiting on a commit that failed says instead, why: a set whose record never
 * reached the journal (the server stopped while it was failing: not stored), a flush whose new
 * journal state could not be written.
 */
const COMMIT_FAILED: OnFailure = { reply: (error) => [reply.serverError(error)] };

function handleSet(frame: SetFrame, session: Session, ctx: ServerContext): void {
  const now = Date.now();
  const mark = feedMark();
  const outcome = setItem(ctx, frame.key, frame.data, expiryFromExptime(frame.exptime, now), now, frame.flags);
  const feed = feedStartedSince(mark);
  if (!frame.noreply) replyToSet(outcome, session);
  // Its fanout children are fed over turns: the connection's next request waits for them.
  if (feed !== null) holdWhileFed(session, feed);
}

function replyToSet(outcome: SetOutcome, session: Session): void {
  if (isStored(outcome)) return session.outbox.pushAfter(outcome, STORED_REPLY, COMMIT_FAILED);
  session.outbox.push(typeof outcome === "string" ? reply.NOT_STORED : reply.failure(outcome));
}

function executeLine(command: string, args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  switch (command) {
    case "get":
    case "gets":
      return handleGet(args, session, ctx, command === "gets");
    case "monitor":
      return handleMonitor(args, session, ctx);
    case "confirm":
      return handleConfirm(args, session, ctx);
    case "delete":
      return withQueueArg(command, args, session, (name, noreply) => {
        const gone = deleteQueue(ctx, name);
        if (!noreply) out.pushAfter(gone, DELETED_REPLY, null);
      });
    case "flush":
      return withQueueArg(command, args, session, (name, noreply) => {
        const flushed = flushQueue(ctx, name);
        if (!noreply) out.pushAfter(flushed, FLUSHED_REPLY, COMMIT_FAILED);
      });
    case "flush_expired":
      return withQueueArg(command, args, session, (name, noreply) => {
        const queue = ctx.queues.get(name);
        flushExpiredInTurns(queue === undefined ? [] : [queue], Date.now(), session, (count) => {
          if (!noreply) out.push(reply.line(String(count)));
        });
      });
    case "flush_all": {
      const noreply = lineAsksNoReply(command, args);
      return flushAllInTurns(ctx, session, (flushed) => {
        if (!noreply) out.pushAfter(flushed, FLUSHED_ALL_REPLY, COMMIT_FAILED);
      });
    }
    case "flush_all_expired":
      return flushExpiredInTurns([...ctx.queues.all()], Date.now(), session, (count) => out.push(reply.line(String(count))));
    case "stats":
      return streamReport(session, ctx, "stats");
    case "dump_stats":
      return args.length === 0 ? streamReport(session, ctx, "dump") : streamNamedStats(session, ctx, args);
    case "dump_config":
      return streamConfig(session, ctx);
    case "status":
      return handleStatus(args, session, ctx);
    case "version":
      out.push(reply.versionLine(ctx.version));
      return;
    case "reload": {
      // Applied at once; the reply waits until the journals it turned on or off hold their items.
      const reloaded = reloadConfig(ctx);
      if (isFailure(reloaded)) return out.push(reply.failure(reloaded));
      out.pushAfter(reloaded, [reply.RELOADED], RELOAD_UNFINISHED);
      return;
    }
    case "shutdown":
      return shutdown(ctx, session);
    case "quit":
      session.quit();
      return;
    default:
      out.push(reply.ERROR);
  }
}

/** A reload whose journal turned on could not get every item written to it (the config is in force; upkeep rebuilds that journal). */
const RELOAD_UNFINISHED: OnFailure = { reply: (error) => [reply.serverError(`reload applied, but ${error}`)] };

/** `success` if nothing failed, else the failure's reply. */
function orFailure(failed: Failure | null, success: string): string {
  return failed === null ? success : reply.failure(failed);
}

/**
 * `status` replies the server's status in upper case; `status <new>` (any case) changes it and
 * replies END (admission.ts lets only admins change it).
 */
function handleStatus(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  if (args.length === 0) return out.push(reply.line(currentStatus(ctx).toUpperCase()));
  if (args.length > 1) return out.push(reply.clientError(`usage: status [${SERVER_STATUSES.join("|")}]`));
  out.push(orFailure(changeStatus(ctx, session, args[0]!), reply.END));
}

/** Commands a last `noreply` argument silences. */
const NOREPLY_COMMANDS: ReadonlySet<string> = new Set(["delete", "flush", "flush_expired", "flush_all"]);

function lineAsksNoReply(command: string, args: readonly string[]): boolean {
  return NOREPLY_COMMANDS.has(command) && args[args.length - 1] === "noreply";
}

/** Whether `frame` asked for no reply: then not even an error from a bug in its command is sent. */
export function asksNoReply(frame: Frame): boolean {
  switch (frame.kind) {
    case "line":
      return lineAsksNoReply(frame.command, frame.args);
    case "fatal":
    case "binary":
      return false;
    default:
      return frame.noreply;
  }
}

/** Commands of the form `<command> <queue> [ignored number] [noreply]`. */
function withQueueArg(command: string, args: readonly string[], session: Session, run: (queue: string, noreply: boolean) => void): void {
  const noreply = lineAsksNoReply(command, args);
  const name = args[0];
  if (name === undefined) return session.outbox.push(reply.ERROR);
  const bad = checkQueueName(name);
  if (bad !== null) {
    if (!noreply) session.outbox.push(reply.failure(bad));
    return;
  }
  run(name, noreply);
}
