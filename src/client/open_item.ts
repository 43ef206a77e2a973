/**
 * An item opened with `get <queue>/open`: a reliable read. The server set it aside for the
 * connection that opened it, so this object holds that connection (leased from its server's
 * pool) until `close()` confirms the item or `abort()` gives it back, both sent on that same
 * connection (`get <queue>/close`, `get <queue>/abort`).
 *
 * Invariants: the first of close/abort/closeAndOpenNext settles the item and later calls do
 * nothing; the connection goes back to the pool only after a clean END, and is closed on any
 * doubt, which makes the server put the item back at the head of its queue: an item is never
 * lost, at worst handed out again (at-least-once).
 */
import type { Connection } from "./connection.ts";
import { ConnectionError, ProtocolError, ServerRefusedError } from "./errors.ts";
import { getRequest, replyText, type GetOptions, type Value } from "./protocol.ts";

export interface OpenItemLease {
  readonly connection: Connection;
  readonly requestTimeoutMs: number;
  /** Hands the connection back to its pool. */
  release(connection: Connection): void;
}

export class OpenItem {
  private settled = false;
  /** `host:port` of the server holding the item. */
  readonly server: string;

  constructor(
    readonly data: Uint8Array,
    readonly queue: string,
    private readonly lease: OpenItemLease,
  ) {
    this.server = lease.connection.endpoint.name;
  }

  /** Confirms the item: the server removes it for good. Throws if that could not be confirmed (the server then hands it out again). */
  async close(): Promise<void> {
    if (this.take()) await this.send({ close: true });
  }

  /** Gives the item back to the head of its queue. Never throws: if the server can't be told, closing the connection does the same. */
  async abort(): Promise<void> {
    if (!this.take()) return;
    await this.send({ abort: true }).catch(() => {});
  }

  /**
   * Confirms the item and opens the next one of the same queue on the same connection, in one
   * round trip (`get <queue>/close/open`); null (and the connection released) when that server
   * has none. Throws like `close`.
   */
  async closeAndOpenNext(): Promise<OpenItem | null> {
    if (!this.take()) return null;
    const next = await this.send({ close: true, open: true });
    return next === null ? null : new OpenItem(next, this.queue, this.lease);
  }

  private take(): boolean {
    const first = !this.settled;
    this.settled = true;
    return first;
  }

  /** Sends a close/abort; the next item's data if it also opened one. */
  private async send(options: GetOptions): Promise<Uint8Array | null> {
    const { connection } = this.lease;
    let value: Value | undefined;
    try {
      const reply = await connection.request(getRequest(this.queue, options), "values", this.lease.requestTimeoutMs);
      if (reply.kind === "error") throw new ServerRefusedError(this.server, reply.line);
      if (reply.kind !== "values" || reply.values.length > (options.open ? 1 : 0)) throw new ProtocolError(this.server, `unexpected reply to a close: ${replyText(reply)}`);
      value = reply.values[0];
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      connection.close(new ConnectionError(this.server, `closed after a failed close/abort on '${this.queue}'`));
      if (!options.close) throw error;
      throw new ConnectionError(this.server, `the item from '${this.queue}' was not confirmed (${reason}); the server hands it out again`, { cause: error });
    }
    if (value !== undefined) return new Uint8Array(value.data);
    this.lease.release(connection);
    return null;
  }
}
