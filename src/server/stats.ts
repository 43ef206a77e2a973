/**
 * Server-wide counters reported by `stats`.
 *
 * Plain numbers, bumped by the connection and command code; nothing here does I/O.
 */
export class ServerStats {
  readonly startedAt = Date.now();
  totalConnections = 0;
  currConnections = 0;
  cmdGet = 0;
  cmdSet = 0;
  cmdPeek = 0;
  getHits = 0;
  getMisses = 0;
  bytesRead = 0;
  bytesWritten = 0;
}
