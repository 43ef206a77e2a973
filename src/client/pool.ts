/**
 * The connections to one server. Short requests (set, a get that does not wait, status) share one
 * pipelined connection; what ties a connection up takes one of its own, leased from an idle list:
 * a blocking get (the server serves nothing else on that connection while it waits) and an open
 * item (the server keeps a reliable read on the connection that opened it, so the item stays
 * leased until its close or abort; one open item per connection).
 *
 * Invariants: a broken connection is dropped at once and never handed out again; a connection
 * back from a lease is kept only if it is usable, idle and there is room (`maxIdle`); once the
 * pool is retired (the server left the list, or the client closed) it opens nothing more and
 * closes every connection handed back to it.
 */
import { Connection, type Endpoint } from "./connection.ts";
import { ConnectionError } from "./errors.ts";

export interface PoolSettings {
  readonly connectTimeoutMs: number;
  /** Idle leased connections kept per server for reuse. */
  readonly maxIdle: number;
}

export class ServerPool {
  private sharedConnection: Promise<Connection> | null = null;
  private readonly idle: Connection[] = [];
  private readonly open = new Set<Connection>();
  private retired = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly settings: PoolSettings,
  ) {}

  /** The pipelined connection for short requests, opened on first use and after it breaks. */
  shared(): Promise<Connection> {
    if (this.sharedConnection !== null) return this.sharedConnection;
    const opening = this.connect();
    this.sharedConnection = opening;
    opening.then(
      (connection) => {
        const dropped = connection.onBroken;
        connection.onBroken = (error) => {
          if (this.sharedConnection === opening) this.sharedConnection = null;
          dropped(error);
        };
      },
      () => {
        if (this.sharedConnection === opening) this.sharedConnection = null;
      },
    );
    return opening;
  }

  /** A connection for the caller alone, until it hands it back with `release`. */
  async lease(): Promise<Connection> {
    for (let connection = this.idle.pop(); connection !== undefined; connection = this.idle.pop()) {
      if (connection.usable) return connection;
    }
    return this.connect();
  }

  release(connection: Connection): void {
    if (this.retired || !connection.usable || connection.inFlight > 0 || this.idle.length >= this.settings.maxIdle) connection.close();
    else this.idle.push(connection);
  }

  /** Opens nothing more; closes the shared and idle connections now, leased ones when released. */
  retire(): void {
    this.retired = true;
    for (const connection of [...this.idle]) connection.close();
    this.idle.length = 0;
    void this.sharedConnection?.then((connection) => connection.close()).catch(() => {});
  }

  /** Retires the pool and closes every connection, leased ones too (their open items go back). */
  closeAll(): void {
    this.retire();
    for (const connection of [...this.open]) connection.close();
  }

  private async connect(): Promise<Connection> {
    if (this.retired) throw new ConnectionError(this.endpoint.name, "no longer in the client's server list");
    const connection = await Connection.open(this.endpoint, this.settings.connectTimeoutMs);
    if (this.retired) {
      connection.close();
      throw new ConnectionError(this.endpoint.name, "no longer in the client's server list");
    }
    this.open.add(connection);
    connection.onBroken = () => {
      this.open.delete(connection);
      const index = this.idle.indexOf(connection);
      if (index !== -1) this.idle.splice(index, 1);
    };
    return connection;
  }
}
