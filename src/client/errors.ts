/**
 * The client's typed errors. Every one that comes from a server names it (`server`, and the
 * message starts with it), so a caller can tell which node of the cluster misbehaved.
 *
 * Which ones the client retries on another server by itself: `ConnectionError`, `TimeoutError`,
 * `ProtocolError` (the server is skipped with backoff), `ServerRefusedError` (its status is taken
 * as readonly/quiescent until the next status check) and `NotStoredError`. `RequestError` is never
 * retried: the request itself is wrong (a bad queue name) and would fail everywhere.
 */

export class KestrelError extends Error {
  constructor(
    /** `host:port` of the server involved, or null when none was. */
    readonly server: string | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(server === null ? message : `kestrel ${server}: ${message}`, options);
    this.name = new.target.name;
  }
}

/** Could not connect, or the connection broke before the reply was complete. */
export class ConnectionError extends KestrelError {}

/** No complete reply within the request timeout; the connection was closed. */
export class TimeoutError extends KestrelError {}

/** The server sent bytes that are not a memcache reply to what was asked. */
export class ProtocolError extends KestrelError {}

/** `SERVER_ERROR <reason>`: the server refused (its status, or a journal it cannot write). */
export class ServerRefusedError extends KestrelError {
  constructor(
    server: string,
    readonly reason: string,
  ) {
    super(server, `refused: ${reason}`);
  }
}

/** `NOT_STORED`: the queue is full (or the item too large) on that server. */
export class NotStoredError extends KestrelError {}

/** `ERROR` or `CLIENT_ERROR`: the request is wrong, whichever server gets it. */
export class RequestError extends KestrelError {}

/** No server could take the operation before its deadline; `cause` is the last failure seen. */
export class NoServerError extends KestrelError {}

/** The client was closed (`close()`) while the operation was under way. */
export class ClientClosedError extends KestrelError {
  constructor() {
    super(null, "the client is closed");
  }
}

/** An operation stopped by its AbortSignal (consume's `signal`). */
export class AbortedError extends KestrelError {
  constructor(server: string | null) {
    super(server, "aborted");
  }
}
