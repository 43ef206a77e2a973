/**
 * `put`: one item to one random eligible server, resolved once that server answered STORED.
 *
 * At-least-once: when the server fails before STORED (the connection breaks, the reply is late,
 * it refuses with SERVER_ERROR), the item may or may not be on it, and the put is sent again to
 * another server; so an acknowledged item is stored at least once, and rarely twice. NOT_STORED
 * (the queue is full there) is certain not to have stored it, and the next server is tried; only
 * when every eligible server said NOT_STORED does the put fail with NotStoredError. A put keeps
 * trying for `retryForMs`, waiting out backoffs, then fails with NoServerError naming the last
 * failure.
 */
import { type ClientCore, noServerError, refusal, throwIfClosed, transportFailure, waitForServers } from "./core.ts";
import { KestrelError, NotStoredError, ProtocolError } from "./errors.ts";
import { replyText, setRequest } from "./protocol.ts";

/** Memcache's exptime for an expiry `expiresInMs` from `now`: relative seconds, absolute past 30 days. */
export function exptimeFor(expiresInMs: number | undefined, now: number): number {
  if (expiresInMs === undefined) return 0;
  if (!(expiresInMs > 0)) throw new RangeError(`expiresInMs must be a positive number of milliseconds, not ${expiresInMs}`);
  const seconds = Math.ceil(expiresInMs / 1000);
  return seconds < 1_000_000 ? seconds : Math.ceil((now + expiresInMs) / 1000);
}

export async function putItem(core: ClientCore, queue: string, data: Uint8Array, expiresInMs?: number): Promise<void> {
  await core.ready;
  const request = setRequest(queue, data, exptimeFor(expiresInMs, Date.now()));
  const deadline = Date.now() + core.settings.retryForMs;
  const full = new Set<string>();
  let lastError: KestrelError | null = null;
  for (;;) {
    throwIfClosed(core);
    const member = core.cluster.pick("write", Date.now(), full);
    if (member === null) {
      if (full.size > 0 && core.cluster.pick("write", Date.now()) !== null) {
        throw new NotStoredError(null, `queue '${queue}' is full (or the item too large) on every server that takes writes: ${[...full].join(", ")}`);
      }
      if (Date.now() >= deadline) throw noServerError(core, `no server took the put to '${queue}' within ${core.settings.retryForMs} ms`, lastError);
      await waitForServers(core, deadline);
      continue;
    }
    const server = member.endpoint.name;
    let connection, reply;
    try {
      connection = await member.resource.shared();
      reply = await connection.request(request, "line", core.settings.requestTimeoutMs);
    } catch (error) {
      lastError = transportFailure(core, member, error);
      continue;
    }
    core.cluster.succeeded(member);
    if (reply.kind === "line" && reply.line === "STORED") return;
    if (reply.kind === "line" && reply.line === "NOT_STORED") {
      full.add(server);
      lastError = new NotStoredError(server, `queue '${queue}' is full (or the item too large)`);
    } else if (reply.kind === "error") {
      lastError = refusal(core, member, reply, "write");
    } else {
      const broken = new ProtocolError(server, `unexpected reply to set: ${replyText(reply)}`);
      connection.close(broken);
      lastError = transportFailure(core, member, broken);
    }
  }
}
