/**
 * `kestrel drain --admin HOST:PORT --timeout SECONDS`: empty a server before it stops, through its
 * admin HTTP port. Written for the Kubernetes preStop hook (deploy/kubernetes/statefulset.yaml),
 * which runs the binary itself: the image has no shell. A server with an `admin_token` wants it
 * with PUT /status: it is read from the environment (KESTREL_ADMIN_TOKEN, e.g. from a Secret),
 * never from the command line, which other users of the machine can read.
 *
 *   1. GET /status.
 *   2. If it is up or writeavoid, PUT /status readonly: sets go to other servers, gets still empty
 *      this one. A readonly or quiescent status (an operator's) is left as it is.
 *   3. Unless it is quiescent (nothing is served, so nothing can drain): GET /stats.json once a
 *      second until every queue has items 0 and open_transactions 0, or the timeout (counted from
 *      the start) passes; what is left goes to stderr at the first look and every 5 s.
 *   4. If step 2 changed the status, put the one found back, drained or not, unless someone
 *      changed it meanwhile (then their status stands). The status is saved in queue_path: a pod
 *      restarted by a rolling update would otherwise come back readonly, and after one rolling
 *      update no server of the cluster would take writes. The hook cannot tell a restart from a
 *      removal; for a removal, putting `up` back costs at most the sets that land between this
 *      step and SIGTERM (milliseconds; clients learn the status once a second), which stay on the
 *      pod's retained volume. A server meant to go for good is drained by hand to quiescent
 *      first (docs/cluster.md), and an operator's status is never touched.
 *   5. Exit 0 when drained (or quiescent: not waited for); 1 when the timeout passed (the line
 *      says how many items stay on the volume), the admin port did not answer, or the status could
 *      not be set or put back; 2 for bad usage. Each HTTP request gives up after 5 s.
 */
import { parseEndpoint } from "../client/cluster.ts";
import type { Endpoint } from "../client/connection.ts";
import type { ServerStatus } from "../client/protocol.ts";
import { type Clock, monotonicMs } from "../clock.ts";
import { errorText } from "../errors.ts";
import { AdminClient, type QueueLoad } from "./admin_client.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "./usage.ts";

const POLL_INTERVAL_MS = 1000;
const REPORT_INTERVAL_MS = 5000;
/** Queues named in a progress or timeout line; the rest are counted. */
const QUEUES_NAMED = 5;

export interface DrainOptions {
  readonly admin?: string;
  readonly timeout?: string;
  /** The server's admin_token, if it has one (main.ts reads KESTREL_ADMIN_TOKEN). */
  readonly token?: string;
}

type Outcome = { readonly drained: true } | { readonly drained: false; readonly left: readonly QueueLoad[] };

/** Runs the command; returns the exit code. Throws UsageError. */
export async function drainCommand(options: DrainOptions, clock: Clock = monotonicMs): Promise<number> {
  const admin = new AdminClient(adminArgument(options.admin), options.token || null);
  const deadline = clock() + timeoutArgument(options.timeout) * 1000;
  let found: ServerStatus;
  try {
    found = await admin.status();
  } catch (error) {
    return failed(admin, error);
  }
  let changed = false;
  let code = EXIT_OK;
  try {
    if (found === "up" || found === "writeavoid") {
      await admin.setStatus("readonly");
      changed = true;
      say(admin, `status '${found}' -> 'readonly': sets refused, gets served while it drains`);
    } else {
      say(admin, `status '${found}' (an operator's): left as it is`);
    }
    if (found === "quiescent") {
      say(admin, "quiescent: it serves nothing, so nothing can drain; not waiting");
    } else {
      code = reportOutcome(admin, await waitUntilEmpty(admin, deadline, clock), options.timeout!);
    }
  } catch (error) {
    code = failed(admin, error);
  }
  if (changed && !(await putBack(admin, found))) code = EXIT_FAILURE;
  return code;
}

function adminArgument(text: string | undefined): Endpoint {
  if (text === undefined) throw new UsageError("drain: --admin HOST:PORT is required (the server's admin HTTP address)");
  try {
    return parseEndpoint(text, 0);
  } catch (error) {
    throw new UsageError(`drain: --admin: ${(error as Error).message}`);
  }
}

function timeoutArgument(text: string | undefined): number {
  if (text === undefined) throw new UsageError("drain: --timeout SECONDS is required");
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(seconds)) throw new UsageError(`drain: --timeout: expected seconds, got '${text}'`);
  return seconds;
}

/** Polls /stats.json until nothing is left or `deadline` passes. Throws AdminError. */
async function waitUntilEmpty(admin: AdminClient, deadline: number, clock: Clock): Promise<Outcome> {
  let nextReport = clock();
  for (;;) {
    const left = (await admin.queueLoads()).filter((load) => load.items > 0 || load.open > 0);
    if (left.length === 0) return { drained: true };
    const now = clock();
    if (now >= deadline) return { drained: false, left };
    if (now >= nextReport) {
      say(admin, `draining: ${describeLoads(left)} left; ${Math.ceil((deadline - now) / 1000)} s to go`);
      nextReport = now + REPORT_INTERVAL_MS;
    }
    await Bun.sleep(Math.min(POLL_INTERVAL_MS, deadline - now));
  }
}

function reportOutcome(admin: AdminClient, outcome: Outcome, timeout: string): number {
  if (outcome.drained) {
    say(admin, "drained: every queue is empty, nothing open");
    return EXIT_OK;
  }
  say(admin, `drain timed out after ${timeout} s: ${describeLoads(outcome.left)} stay on the volume, served when the server is back`);
  return EXIT_FAILURE;
}

/** Puts `previous` back if the status is still the readonly drain set; false if that failed. */
async function putBack(admin: AdminClient, previous: ServerStatus): Promise<boolean> {
  try {
    const now = await admin.status();
    if (now !== "readonly") {
      say(admin, `status is now '${now}', set by someone else during the drain: left as it is`);
      return true;
    }
    await admin.setStatus(previous);
    say(admin, `status 'readonly' -> '${previous}' (put back: it is saved in queue_path and the server may be restarting)`);
    return true;
  } catch (error) {
    say(admin, `could not put status '${previous}' back, it stays 'readonly' (saved in queue_path): ${errorText(error)}`);
    return false;
  }
}

/** `12 items (1 open) in 2 queues (jobs 10 with 1 open, mail 2)`: open items count, as they go back to their queue. */
function describeLoads(loads: readonly QueueLoad[]): string {
  const items = loads.reduce((sum, load) => sum + load.items + load.open, 0);
  const open = loads.reduce((sum, load) => sum + load.open, 0);
  const named = loads.slice(0, QUEUES_NAMED).map((load) => `${load.queue} ${load.items + load.open}${load.open > 0 ? ` with ${load.open} open` : ""}`);
  if (loads.length > QUEUES_NAMED) named.push(`${loads.length - QUEUES_NAMED} more`);
  const queues = `${loads.length} queue${loads.length === 1 ? "" : "s"}`;
  return `${items} item${items === 1 ? "" : "s"}${open > 0 ? ` (${open} open)` : ""} in ${queues} (${named.join(", ")})`;
}

function failed(admin: AdminClient, error: unknown): number {
  say(admin, errorText(error));
  return EXIT_FAILURE;
}

function say(admin: AdminClient, message: string): void {
  process.stderr.write(`kestrel: drain ${admin.admin.name}: ${message}\n`);
}
