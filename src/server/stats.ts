/**
 * Server-wide counters reported by `stats`.
 *
 * Plain numbers, bumped by the connection, command and listener code; nothing here does I/O.
 */
import { monotonicMs } from "../clock.ts";

export class ServerStats {
  /** When the server started, on the monotonic clock (`uptime` must not follow wall-clock jumps). */
  readonly startedAt = monotonicMs();
  totalConnections = 0;
  currConnections = 0;
  cmdGet = 0;
  cmdSet = 0;
  cmdPeek = 0;
  getHits = 0;
  getMisses = 0;
  bytesRead = 0;
  bytesWritten = 0;
  /** Times the listener stopped accepting for lack of file descriptors (see listener.ts). */
  listenBackoffs = 0;
  /** 1 while the memcache port accepts connections, 0 while backed off. */
  accepting = 1;
}
