/**
 * Executes one request frame for a connection: every command of the protocol except `get`
 * (get_command.ts). Replies go to the session's outbox in request order. A `readonly` or
 * `quiescent` server refuses sets (status.ts); flush, delete and the expiry commands still run,
 * as they only take items away.
 */
import { isValidQueueName } from "../queue_name.ts";
import { QueueUnavailableError } from "../queue/queue_collection.ts";
import { SERVER_STATUSES } from "../config/schema.ts";
import { admit, describePeer, type CommandFrame } from "./access.ts";
import type { ServerContext, Session } from "./context.ts";
import { handleGet } from "./get_command.ts";
import type { OnFailure } from "./outbox.ts";
import type { SetFrame } from "./request_parser.ts";
import { dumpConfigReport, dumpStatsReport, statsReport } from "./reports.ts";
import * as reply from "./replies.ts";
import { parseStatus } from "./status.ts";

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
/** A set whose record did not reach the journal: not stored (it may still be written later). */
const STORED_FAILED: OnFailure = { waitForRetry: false, reply: (error) => [reply.serverError(error)] };

function handleSet(frame: SetFrame, session: Session, ctx: ServerContext): void {
  ctx.stats.cmdSet++;
  const out = frame.noreply ? null : session.outbox;
  if (!isValidQueueName(frame.key)) return out?.push(reply.clientError(`bad queue name '${frame.key}'`));
  const refusal = ctx.status.writeRefusal();
  if (refusal !== null) return out?.push(reply.serverError(refusal));
  const now = Date.now();
  let result;
  try {
    result = ctx.queues.add(frame.key, frame.data, expiryFromExptime(frame.exptime, now), now, frame.flags);
  } catch (error) {
    if (error instanceof QueueUnavailableError) return out?.push(reply.serverError(error.message));
    throw error;
  }
  if (result === "unavailable") return out?.push(reply.serverError(ctx.queues.writeFailure(frame.key) ?? "journal unavailable"));
  if (typeof result === "string") return out?.push(reply.NOT_STORED);
  out?.pushAfter(result, STORED_REPLY, STORED_FAILED);
}

function executeLine(command: string, args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  switch (command) {
    case "get":
    case "gets":
      return handleGet(args, session, ctx, command === "gets");
    case "delete":
      return withQueueArg(args, session, (name, noreply) => {
        ctx.queues.delete(name);
        if (!noreply) out.push(reply.DELETED);
      });
    case "flush":
      return withQueueArg(args, session, (name, noreply) => {
        const error = ctx.queues.get(name)?.flush() ?? null;
        if (!noreply) out.push(error === null ? reply.END : reply.serverError(error));
      });
    case "flush_expired":
      return withQueueArg(args, session, (name, noreply) => {
        const count = ctx.queues.get(name)?.flushExpired(Date.now()) ?? 0;
        if (!noreply) out.push(reply.line(String(count)));
      });
    case "flush_all": {
      const errors = ctx.queues.flushAll();
      if (args[args.length - 1] !== "noreply") out.push(errors.length === 0 ? reply.FLUSHED_ALL : reply.serverError(errors.join("; ")));
      return;
    }
    case "flush_all_expired":
      out.push(reply.line(String(ctx.queues.flushAllExpired(Date.now()))));
      return;
    case "stats":
      out.push(statsReport(ctx));
      return;
    case "dump_stats":
      out.push(dumpStatsReport(ctx));
      return;
    case "dump_config":
      out.push(dumpConfigReport(ctx));
      return;
    case "status":
      return handleStatus(args, session, ctx);
    case "version":
      out.push(reply.line(`VERSION ${ctx.version}`));
      return;
    case "reload": {
      const error = ctx.reload();
      out.push(error === null ? reply.RELOADED : reply.serverError(`reload failed: ${error}`));
      return;
    }
    case "shutdown":
      session.quit();
      ctx.shutdown();
      return;
    case "quit":
      session.quit();
      return;
    default:
      out.push(reply.ERROR);
  }
}

/**
 * `status` replies the server's status in upper case; `status <new>` (any case) changes it and
 * replies END (access.ts lets only admins change it).
 */
function handleStatus(args: readonly string[], session: Session, ctx: ServerContext): void {
  const out = session.outbox;
  if (args.length === 0) return out.push(reply.line(ctx.status.current.toUpperCase()));
  if (args.length > 1) return out.push(reply.clientError(`usage: status [${SERVER_STATUSES.join("|")}]`));
  const next = parseStatus(args[0]!);
  if (next === null) return out.push(reply.clientError(`unknown status '${args[0]}' (expected ${SERVER_STATUSES.join(", ")})`));
  const error = ctx.status.change(next, describePeer(session));
  out.push(error === null ? reply.END : reply.serverError(error));
}

/** Commands of the form `<command> <queue> [ignored number] [noreply]`. */
function withQueueArg(args: readonly string[], session: Session, run: (queue: string, noreply: boolean) => void): void {
  const noreply = args[args.length - 1] === "noreply";
  const name = args[0];
  if (name === undefined) return session.outbox.push(reply.ERROR);
  if (!isValidQueueName(name)) {
    if (!noreply) session.outbox.push(reply.clientError(`bad queue name '${name}'`));
    return;
  }
  run(name, noreply);
}
