/**
 * Commands on the server itself: its status (read by anyone, changed only where access.ts admits
 * it), its version, reload and shutdown.
 */
import { SERVER_STATUSES, type ServerStatusName } from "../../config/schema.ts";
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

/** Re-reads the config file and applies it; null on success. */
export function reloadConfig(ctx: ServerContext): Failure | null {
  const error = ctx.reload();
  return error === null ? null : unavailable(`reload failed: ${error}`);
}

/** Stops the server cleanly; the connection closes once its replies are written. */
export function shutdown(ctx: ServerContext, session: Session): void {
  session.quit();
  ctx.shutdown();
}
