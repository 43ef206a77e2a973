/**
 * The server's periodic idle check (every IDLE_CHECK_MS, server.ts): asks every connection
 * whether it was idle for its `timeout` and closes it if so (Connection.closeIfIdle says when it
 * may).
 *
 * A connection whose check throws (a bug) is logged once (`internal error checking a connection
 * for idleness`) and the others are checked as usual; that one is asked again at the next check.
 * Nothing reaches main.ts's last resort, which would end the server.
 */
import { runGuardedWith } from "../guarded.ts";
import { log } from "../log.ts";
import type { ServedConnection } from "./connection.ts";

/** What the check needs of a connection. */
export type IdleCheckable = Pick<ServedConnection, "peer" | "closeIfIdle">;

/** What a connection's bug is logged as. */
const CHECKING = "checking a connection for idleness";

/** The time of the check under way (monotonic ms), so each connection's check makes no closure. */
let checkedAt = 0;

/** Closes each of `connections` idle for its timeout as of `now` (monotonic ms). */
export function closeIdleConnections(connections: Iterable<IdleCheckable>, now: number): void {
  checkedAt = now;
  for (const connection of connections) runGuardedWith(CHECKING, closeIfIdle, connection);
}

function closeIfIdle(connection: IdleCheckable): void {
  if (connection.closeIfIdle(checkedAt)) log.debug(`idle timeout: closed the connection from ${connection.peer}`);
}
