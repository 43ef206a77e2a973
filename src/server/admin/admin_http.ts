/**
 * The admin HTTP endpoint (Bun.serve; off unless admin_port is set): the dashboard page at `/`
 * and its files under /dashboard/, /health, /stats.json and Prometheus /metrics (each read from
 * a stats snapshot gathered over turns, shared by the requests that wait for it
 * (snapshot_pool.ts), written by report_bodies.ts and sent as it is made: streamed_body.ts),
 * /history.json (the last 15 minutes, history.ts, also sent as it is made, from one moment of
 * the history: history_body.ts), /config.json (the queues' settings, as dump_config, also sent as
 * it is made: config_json.ts) and the server status (GET /status). Requests for the same bytes
 * (/history.json of the same samples, a report of the same snapshot) read one body, made once
 * (shared_bodies.ts). Requests start, and bodies are sent, within the admin port's share of a turn
 * (turn_share.ts), however many come at once. A request that fails (a bug) gets a 500 and one log line, never Bun's page
 * or a stack trace; the server goes on.
 *
 * Read-only but for the actions of admin_actions.ts (PUT /status, flushing or deleting a queue),
 * each gated by the admin token, the auth file and admin_commands there. Any other method but GET
 * is answered 405 with the methods the path takes.
 */
import { errorText } from "../../errors.ts";
import { log } from "../../log.ts";
import { Listener, type BoundPort, type ListenerCounters } from "../listener.ts";
import { compareNames } from "../../queue_name.ts";
import type { ServerContext } from "../context.ts";
import { takeSnapshotInTurns, type Snapshot } from "../snapshot.ts";
import { actionMethods, findAction, text } from "./admin_actions.ts";
import { configJson } from "./config_json.ts";
import { dashboardFile } from "./dashboard_files.ts";
import type { History } from "./history.ts";
import { historyBody } from "./history_body.ts";
import { metrics, statsJson } from "./report_bodies.ts";
import { SnapshotPool } from "./snapshot_pool.ts";
import { piecesWritten, RenderChunks, type Render } from "./render_chunks.ts";
import { SharedBodies } from "./shared_bodies.ts";
import { streamedResponse, type BodyHooks } from "./streamed_body.ts";
import { requestStart } from "./turn_share.ts";

const JSON_TYPE = "application/json;charset=utf-8";
const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** How long /history.json's body is kept after its last reader, for the next requests of the same samples (one a second). */
const HISTORY_KEPT_MS = 1000;

/**
 * Binds the admin port; `context` is called on each request (the server binds before it has its
 * queues), `history` is what /history.json serves. It closes while descriptors run out, as the
 * memcache port does (listener.ts), with the backoffs counted in `counters`.
 */
export function startAdminHttp(context: () => ServerContext, history: History, hostname: string, port: number, counters: ListenerCounters): Listener {
  const sources: Sources = { history, snapshots: new SnapshotPool((done) => takeSnapshotInTurns(context(), done)), bodies: new SharedBodies() };
  return new Listener((at) => serveAdmin(context, sources, hostname, at), port, counters);
}

/** Bun.serve on `hostname:port`, as a listener's bound port. */
function serveAdmin(context: () => ServerContext, sources: Sources, hostname: string, port: number): BoundPort {
  const server = Bun.serve({
    hostname,
    port,
    development: false,
    // Only PUT /status has a body, a word: nobody can make the server buffer a large one.
    maxRequestBodySize: 1024,
    async fetch(request, server) {
      // 2,000 requests arriving together start a few a turn, not all in one (turn_share.ts).
      await requestStart();
      const url = new URL(request.url);
      try {
        const action = findAction(request.method, url.pathname);
        if (action !== null) return await action(request, server.requestIP(request)?.address ?? "unknown", context());
        return await route(request, url, context(), sources);
      } catch (error) {
        log.error(`admin HTTP: internal error in ${request.method} ${url.pathname}: ${errorText(error)}`);
        return new Response("internal error\n", { status: 500 });
      }
    },
  });
  // Stopped, it finishes the requests under way (a backoff) or drops them (the server's stop: true).
  return { port: server.port ?? port, hostname: server.hostname ?? hostname, stop: (closeConnections) => void server.stop(closeConnections) };
}

/** What the reports are made from: the history, the stats snapshots, and the bodies shared by requests for the same bytes. */
interface Sources {
  readonly history: History;
  readonly snapshots: SnapshotPool;
  readonly bodies: SharedBodies;
}

function route(request: Request, url: URL, ctx: ServerContext, sources: Sources): Response | Promise<Response> {
  const path = url.pathname;
  if (request.method !== "GET") {
    const allow = actionMethods(path) ?? "GET";
    return new Response(`method not allowed: ${path} takes ${allow}\n`, { status: 405, headers: { allow } });
  }
  if (path === "/health") return health(ctx);
  const hooks = bodyHooks(path);
  const made = (bytes: number) => ctx.pacer.traffic(bytes);
  if (path === "/stats.json") return fromSnapshot(sources, request.signal, path, (snapshot) => (out) => statsJson(snapshot, out), made, hooks);
  if (path === "/metrics") return fromSnapshot(sources, request.signal, path, (snapshot) => (out) => metrics(snapshot, out), made, hooks);
  if (path === "/status") return text(200, ctx.status.current);
  if (path === "/history.json") return historyJson(url, sources, made, hooks);
  // Not shared: the config it shows changes on reload, and queues come and go while it is sent.
  if (path === "/config.json") return streamedResponse(new RenderChunks(piecesWritten(configJson(url, ctx)), made), JSON_TYPE, hooks);
  return dashboardFile(path) ?? text(404, "not found: try /, /health, /stats.json, /metrics, /history.json, /config.json or /status");
}

/**
 * `?after=<n>`: only the samples after number n (the `last` of an earlier answer). The samples
 * are those shown when the request came, sent as the client reads.
 */
function historyJson(url: URL, { history, bodies }: Sources, made: (bytes: number) => void, hooks: BodyHooks): Response {
  const after = url.searchParams.get("after") ?? "-1";
  if (!/^(-1|\d{1,15})$/.test(after)) return text(400, `after must be a sample number, not ${JSON.stringify(after)}`);
  const view = history.view(Number(after));
  // One view's bytes are those of any view of the same samples (history.ts: a sample shows whole, once).
  const body = bodies.reader(`/history.json ${view.first}-${view.last}`, (out) => historyBody(view, out), made, HISTORY_KEPT_MS);
  return streamedResponse(body, JSON_TYPE, hooks);
}

/**
 * `/health`: ok, or the queues whose journals fail. It reads only what it says (a probe calls it
 * every few seconds): no snapshot of every queue's stats, which took 17-82 ms at 15,000 queues.
 */
function health(ctx: ServerContext): Response {
  const failing: Array<{ readonly queue: string; readonly error: string }> = [];
  let queues = 0;
  for (const queue of ctx.queues.all()) {
    queues++;
    const error = queue.journalFailure ?? queue.readFailure;
    if (error !== null) failing.push({ queue: queue.name, error });
  }
  failing.sort((a, b) => compareNames(a.queue, b.queue));
  for (const queue of ctx.queues.unavailableQueues()) failing.push({ queue: queue.name, error: queue.reason });
  const status = failing.length === 0 ? "ok" : "degraded";
  // The server status is shown, not judged: a readonly or quiescent server is healthy (a probe
  // that failed it would restart a server being drained).
  return Response.json({ status, server_status: ctx.status.current, queues, failing }, { status: failing.length === 0 ? 200 : 503 });
}

/**
 * A reply made from a shared snapshot (snapshot_pool.ts), held until the body is sent, its body
 * shared by the requests for the same report of the same snapshot (let go with its last reader:
 * a later request waits for a later snapshot); a client gone before its snapshot began gets
 * nothing made for it.
 */
async function fromSnapshot(
  { snapshots, bodies }: Sources,
  signal: AbortSignal,
  path: "/stats.json" | "/metrics",
  render: (snapshot: Snapshot) => Render,
  made: (bytes: number) => void,
  hooks: BodyHooks,
): Promise<Response> {
  const lease = await snapshots.lease(signal);
  if (lease === null) return text(503, "the client went away");
  const body = bodies.reader(`${path} ${lease.id}`, render(lease.snapshot), made, 0);
  return streamedResponse(body, path === "/metrics" ? METRICS_TYPE : JSON_TYPE, { ...hooks, onEnd: lease.release });
}

/** A streamed body's failures are logged. */
function bodyHooks(path: string): BodyHooks {
  return { onError: (error) => log.error(`admin HTTP: internal error in GET ${path}, the reply cut short: ${errorText(error)}`) };
}
