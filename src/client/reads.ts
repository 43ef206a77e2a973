/**
 * `get` and `open` across the cluster: find one item of a queue on whichever server has one.
 *
 * The servers that serve reads are visited in a random order: first each once without waiting
 * (an item anywhere is found at once), then in turn with short blocking reads (`/t=`, at most
 * `pollSliceMs` each; the whole time left when only one server is eligible) until `timeoutMs`
 * has passed. So the answer is null only when the whole timeout passed with nothing found on any
 * server that answered; when no server answered at all, it is NoServerError instead.
 *
 * A get that does not wait shares its server's pipelined connection; a blocking get and an open
 * lease one (the server serves nothing else on it while it waits, and keeps an open item on it).
 * An item is copied out of the socket's buffer before it is handed to the caller.
 */
import type { Connection } from "./connection.ts";
import { type ClientCore, type PoolMember, noServerError, refusal, throwIfClosed, transportFailure, waitForServers } from "./core.ts";
import { AbortedError, KestrelError, ProtocolError } from "./errors.ts";
import { OpenItem } from "./open_item.ts";
import { getRequest, replyText } from "./protocol.ts";

export interface Found {
  readonly data: Uint8Array;
  readonly member: PoolMember;
  /** For an open item: the leased connection holding it. */
  readonly connection: Connection | null;
}

/** What one server said: an item, nothing, or it could not answer (`failure`). */
type Answer = Found | null | { readonly failure: KestrelError };

export async function findItem(core: ClientCore, queue: string, open: boolean, timeoutMs = 0, signal?: AbortSignal): Promise<Found | null> {
  await core.ready;
  const deadline = Date.now() + Math.max(0, timeoutMs);
  let answered = false;
  let lastError: KestrelError | null = null;
  for (let pass = 0; pass === 0 || Date.now() < deadline; pass++) {
    throwIfClosed(core);
    if (signal?.aborted) throw new AbortedError(null);
    const servers = core.cluster.eligible("read", Date.now());
    if (servers.length === 0) await waitForServers(core, deadline, signal);
    for (const member of servers) {
      const left = deadline - Date.now();
      if (pass > 0 && left <= 0) break;
      const waitMs = pass === 0 ? 0 : servers.length === 1 ? left : Math.min(core.settings.pollSliceMs, left);
      const answer = await ask(core, member, queue, open, waitMs, signal);
      if (answer !== null && "failure" in answer) {
        lastError = answer.failure;
        continue;
      }
      answered = true;
      if (answer !== null) return answer;
    }
  }
  if (answered) return null;
  throw noServerError(core, `no server answered a read of '${queue}'`, lastError);
}

async function ask(core: ClientCore, member: PoolMember, queue: string, open: boolean, waitMs: number, signal?: AbortSignal): Promise<Answer> {
  const pool = member.resource;
  const leased = open || waitMs > 0;
  let connection: Connection | undefined;
  let keep = false;
  try {
    connection = leased ? await pool.lease() : await pool.shared();
    const reply = await connection.request(getRequest(queue, { open, waitMs }), "values", waitMs + core.settings.requestTimeoutMs, signal);
    if (reply.kind === "values" && reply.values.length <= 1) {
      core.cluster.succeeded(member);
      const value = reply.values[0];
      if (value === undefined) return null;
      keep = open;
      return { data: new Uint8Array(value.data), member, connection: open ? connection : null };
    }
    if (reply.kind === "error") return { failure: refusal(core, member, reply, "read") };
    const broken = new ProtocolError(member.endpoint.name, `unexpected reply to get: ${replyText(reply)}`);
    connection.close(broken);
    throw broken;
  } catch (error) {
    return { failure: transportFailure(core, member, error) };
  } finally {
    if (leased && connection !== undefined && !keep) pool.release(connection);
  }
}

/** `open`: an item opened anywhere in the cluster, holding the connection that opened it. */
export async function openItem(core: ClientCore, queue: string, timeoutMs = 0, signal?: AbortSignal): Promise<OpenItem | null> {
  const found = await findItem(core, queue, true, timeoutMs, signal);
  if (found === null) return null;
  const pool = found.member.resource;
  return new OpenItem(found.data, queue, { connection: found.connection!, requestTimeoutMs: core.settings.requestTimeoutMs, release: (connection) => pool.release(connection) });
}
