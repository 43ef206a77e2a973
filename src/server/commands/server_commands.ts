/**
 * Commands on the server itself: its status (read by anyone, changed only where access.ts admits
 * it), its version, reload and shutdown.
 */
import { SERVER_STATUSES, type ServerStatusName } from "../../config/schema.ts";
import type { Commit } from "../../journal/commit.ts";
import { describePeer } from "../access.ts";
import type { ServerContext } from "../context.ts";
import { parseStatus } from "../status.ts";
import { badRequest, unavailable, type Failure } from "./failure.ts";
import type { Session } from "./session.ts";

export function currentStatus(ctx: ServerContext): ServerStatusName {
  return ctx.status.current;
}

/** Changes the status to the one `text` names (any case); null once it took effect. */
export function changeStatus(ctx: ServerContext, session: Session, text: string): Failure | null {
  const next = parseStatus(text);
  if (next === null) return badRequest(`unknown status '${text}' (expected ${SERVER_STATUSES.join(", ")})`);
  const error = ctx.status.change(next, describePeer(session));
  return error === null ? null : unavailable(error);
}

/**
 * Re-reads the config file and applies it; returns why it failed, or the commit that settles once
 * every journal it turned on or off holds its items (the reply waits for it).
 */
export function reloadConfig(ctx: ServerContext): Failure | Commit {
  const outcome = ctx.reload();
  return typeof outcome === "string" ? unavailable(`reload failed: ${outcome}`) : outcome;
}

/** Stops the server cleanly; the connection closes once its replies are written. */
export function shutdown(ctx: ServerContext, session: Session): void {
  session.quit();
  ctx.shutdown();
}
