/**
 * The few admin HTTP calls `kestrel drain` makes (GET /status, PUT /status, GET /stats.json), with
 * fetch(), which the compiled binary carries: the distroless image has no shell and no curl.
 *
 * PUT /status carries the admin token as a bearer token when one is given (the server's
 * `admin_token`); the reads never do.
 *
 * Invariants: every request gives up after ADMIN_REQUEST_TIMEOUT_MS; anything but the answer asked
 * for (no connection, a timeout, a non-200 status, a body that is not what the server sends)
 * throws an AdminError whose message is one line saying what was asked and what came back.
 */
import type { Endpoint } from "../client/connection.ts";
import { parseStatus, type ServerStatus } from "../client/protocol.ts";
import { errorText } from "../errors.ts";

export const ADMIN_REQUEST_TIMEOUT_MS = 5000;

export class AdminError extends Error {}

/** Items still queued and items handed out by `open` and not yet confirmed, of one queue. */
export interface QueueLoad {
  readonly queue: string;
  readonly items: number;
  readonly open: number;
}

export class AdminClient {
  private readonly base: string;

  constructor(
    readonly admin: Endpoint,
    private readonly token: string | null = null,
  ) {
    this.base = `http://${admin.name}`;
  }

  async status(): Promise<ServerStatus> {
    return statusIn(await this.call("GET", "/status"), "GET /status");
  }

  /** Sets `status`; returns the status the server says is in force. */
  async setStatus(status: ServerStatus): Promise<ServerStatus> {
    return statusIn(await this.call("PUT", "/status", status), `PUT /status ${status}`);
  }

  /** Every queue's items and open transactions, from /stats.json. */
  async queueLoads(): Promise<QueueLoad[]> {
    const text = await this.call("GET", "/stats.json");
    try {
      const queues = (JSON.parse(text) as { queues: Record<string, { items: unknown; open_transactions: unknown }> }).queues;
      return Object.entries(queues).map(([queue, stats]) => ({ queue, items: count(stats.items), open: count(stats.open_transactions) }));
    } catch (error) {
      throw new AdminError(`GET /stats.json: not the server's stats (${errorText(error)})`);
    }
  }

  private async call(method: "GET" | "PUT", path: string, body?: string): Promise<string> {
    const what = `${method} ${path}${body === undefined ? "" : ` ${body}`}`;
    let response: Response;
    let text: string;
    try {
      const headers: Record<string, string> = method === "PUT" && this.token !== null ? { authorization: `Bearer ${this.token}` } : {};
      response = await fetch(`${this.base}${path}`, { method, body, headers, signal: AbortSignal.timeout(ADMIN_REQUEST_TIMEOUT_MS) });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      throw new AdminError(`${what}: ${timedOut ? `no answer within ${ADMIN_REQUEST_TIMEOUT_MS / 1000} s` : `admin port unreachable (${errorText(error)})`}`);
    }
    if (response.status !== 200) throw new AdminError(`${what}: HTTP ${response.status}: ${text.trim().split("\n")[0]!.slice(0, 200)}`);
    return text;
  }
}

function statusIn(text: string, what: string): ServerStatus {
  const status = parseStatus(text);
  if (status === null) throw new AdminError(`${what}: not a status: ${JSON.stringify(text.slice(0, 80))}`);
  return status;
}

function count(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new TypeError(`a count that is not a number: ${JSON.stringify(value)}`);
  return value;
}
