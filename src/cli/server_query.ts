/**
 * One short memcache conversation with one server, for the operator commands (`kestrel status`,
 * `kestrel cluster`): connect, send the requests pipelined, collect their replies in order, close.
 * Sockets and reply parsing are the client library's (src/client/connection.ts, protocol.ts).
 *
 * Invariants: the connection is closed however the conversation ends; nothing waits longer than
 * QUERY_TIMEOUT_MS to connect, nor that long for the last reply after the requests went out; every
 * failure is a KestrelError naming the server, and `failureText` makes it one line.
 */
import { parseEndpoint } from "../client/cluster.ts";
import { Connection, type Endpoint } from "../client/connection.ts";
import { KestrelError } from "../client/errors.ts";
import { parseStatus, replyText, type Reply, type ReplyShape, type ServerStatus } from "../client/protocol.ts";
import { errorText } from "../errors.ts";
import { UsageError } from "./usage.ts";

/** How long a server has to accept the connection, and then to answer. */
export const QUERY_TIMEOUT_MS = 5000;

export interface Request {
  readonly bytes: Uint8Array;
  readonly shape: ReplyShape;
}

/** The replies to `requests`, in order. Throws a KestrelError (could not connect, broke, timed out). */
export async function queryServer(server: Endpoint, requests: readonly Request[]): Promise<Reply[]> {
  const connection = await Connection.open(server, QUERY_TIMEOUT_MS);
  try {
    return await Promise.all(requests.map((request) => connection.request(request.bytes, request.shape, QUERY_TIMEOUT_MS)));
  } finally {
    connection.close();
  }
}

/** An error as one line, without the client library's `kestrel <server>: ` prefix (the caller names the server). */
export function failureText(error: unknown): string {
  if (error instanceof KestrelError && error.server !== null) {
    const prefix = `kestrel ${error.server}: `;
    if (error.message.startsWith(prefix)) return error.message.slice(prefix.length);
  }
  return errorText(error);
}

/** The status a reply to `status` names. Throws an Error saying what came instead. */
export function statusFromReply(reply: Reply): ServerStatus {
  const status = reply.kind === "line" ? parseStatus(reply.line) : null;
  if (status !== null) return status;
  if (reply.kind === "error" && reply.line === "ERROR") throw new Error("the server does not know the status command");
  throw new Error(`unexpected reply to status: ${replyText(reply)}`);
}

/** `text` as a server address (port 22133 when left out). Throws UsageError. */
export function serverArgument(text: string): Endpoint {
  try {
    return parseEndpoint(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
