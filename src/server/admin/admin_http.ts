/**
 * The admin HTTP endpoint (Bun.serve; off unless admin_port is set): the dashboard page at `/`
 * and its files under /dashboard/, /health, /stats.json and Prometheus /metrics (each read from
 * a stats snapshot gathered over turns, shared by the requests that wait for it
 * (snapshot_pool.ts), and sent as it is made: streamed_body.ts), /history.json (the last 15
 * minutes, history.ts), /config.json (the queues' settings, as dump_config, also sent as it is
 * made: config_json.ts) and the server status (GET /status). A request that fails (a bug) gets a
 * 500 and one log line, never Bun's page or a stack trace; the server goes on.
 *
 * Read-only but for the actions of admin_actions.ts (PUT /status, flushing or deleting a queue),
 * each gated by the admin token, the auth file and admin_commands there. Any other method but GET
 * is answered 405 with the methods the path takes.
 */
import type { Server } from "bun";
import { SERVER_STATUSES } from "../../config/schema.ts";
import { errorText } from "../../errors.ts";
import { log } from "../../log.ts";
import { compareNames } from "../../queue_name.ts";
import type { ServerContext } from "../context.ts";
import { QUEUE_STAT_NAMES, takeSnapshotInTurns, type Snapshot } from "../snapshot.ts";
import { actionMethods, findAction, text } from "./admin_actions.ts";
import { configJson } from "./config_json.ts";
import { dashboardFile } from "./dashboard_files.ts";
import type { History } from "./history.ts";
import { SnapshotPool } from "./snapshot_pool.ts";
import { streamedResponse, type BodyHooks } from "./streamed_body.ts";

type MetricType = "gauge" | "counter";

/** Server stats as metrics: stats name -> metric name, type, help. */
const SERVER_METRICS: Readonly<Record<string, readonly [string, MetricType, string]>> = {
  uptime: ["kestrel_uptime_seconds", "gauge", "Seconds since the server started."],
  curr_items: ["kestrel_items", "gauge", "Items queued, all queues."],
  total_items: ["kestrel_items_added_total", "counter", "Items ever added, all queues."],
  bytes: ["kestrel_bytes", "gauge", "Bytes of item data queued, all queues."],
  open_transactions_timed_out: ["kestrel_open_transactions_timed_out_total", "counter", "Open items that went back to the head after open_transaction_timeout, all queues."],
  curr_connections: ["kestrel_connections", "gauge", "Client connections open."],
  total_connections: ["kestrel_connections_total", "counter", "Client connections ever accepted."],
  accepting: ["kestrel_accepting", "gauge", "1 while the memcache port accepts connections, 0 while backed off for lack of file descriptors."],
  listen_backoffs: ["kestrel_listen_backoffs_total", "counter", "Times the memcache port stopped accepting for lack of file descriptors."],
  get_hits: ["kestrel_get_hits_total", "counter", "Gets and peeks that returned an item."],
  get_misses: ["kestrel_get_misses_total", "counter", "Gets and peeks that returned no item."],
  bytes_read: ["kestrel_read_bytes_total", "counter", "Protocol bytes received."],
  bytes_written: ["kestrel_written_bytes_total", "counter", "Protocol bytes sent."],
  queue_creates: ["kestrel_queue_creates_total", "counter", "Queues created since start (loaded at start, or first named)."],
  queue_creates_refused: ["kestrel_queue_creates_refused_total", "counter", "New queues refused because max_queues were served."],
  journal_syncfs: ["kestrel_journal_syncfs_total", "counter", "Syncs of the data directory's file system, each standing for the fsyncs of 8 or more journals."],
  queue_deletes: ["kestrel_queue_deletes_total", "counter", "Queues deleted since start (expired ones included)."],
  queue_expires: ["kestrel_queue_expires_total", "counter", "Queues deleted by max_queue_age since start."],
  memory_collections: ["kestrel_memory_collections_total", "counter", "Garbage collections run to keep memory near the live data."],
  memory_collections_skipped: ["kestrel_memory_collections_skipped_total", "counter", "Full collections of a quiet second not run because they would have stopped the server too long."],
  resident_bytes: ["kestrel_resident_memory_bytes", "gauge", "Resident memory of the server process."],
  pending_request_bytes: ["kestrel_pending_request_bytes", "gauge", "Request bytes held for all clients (max_pending_request_bytes)."],
  request_waits: ["kestrel_request_waits_total", "counter", "Times a client sending a big request had to wait for max_pending_request_bytes."],
};

const COMMAND_STATS: ReadonlyArray<readonly [string, string]> = [
  ["cmd_get", "get"],
  ["cmd_set", "set"],
  ["cmd_peek", "peek"],
];

/** Queue stats as metrics (label `queue`): stats name -> metric name, type, help. */
const QUEUE_METRICS: Readonly<Record<string, readonly [string, MetricType, string]>> = {
  items: ["kestrel_queue_items", "gauge", "Items queued (in memory and in the journal)."],
  bytes: ["kestrel_queue_bytes", "gauge", "Bytes of item data queued."],
  total_items: ["kestrel_queue_items_added_total", "counter", "Items ever added since start."],
  logsize: ["kestrel_queue_journal_bytes", "gauge", "Size of the journal files."],
  expired_items: ["kestrel_queue_expired_total", "counter", "Items that expired."],
  mem_items: ["kestrel_queue_memory_items", "gauge", "Items held in memory."],
  mem_bytes: ["kestrel_queue_memory_bytes", "gauge", "Bytes of item data held in memory."],
  age: ["kestrel_queue_age_milliseconds", "gauge", "How long ago the last item taken was added (grows while nothing is taken); 0 when empty."],
  discarded: ["kestrel_queue_discarded_total", "counter", "Items dropped by discard_old_when_full."],
  waiters: ["kestrel_queue_waiters", "gauge", "Clients blocked in a get with a timeout."],
  open_transactions: ["kestrel_queue_open_transactions", "gauge", "Items handed out by open and not yet closed."],
  open_transactions_timed_out: ["kestrel_queue_open_transactions_timed_out_total", "counter", "Open items that went back to the head after open_transaction_timeout."],
  transactions: ["kestrel_queue_transactions_total", "counter", "Opens (reliable reads) tried while the queue held items."],
  canceled_transactions: ["kestrel_queue_canceled_transactions_total", "counter", "Open items that went back to the head: aborted, timed out, or their connection closed."],
  total_flushes: ["kestrel_queue_flushes_total", "counter", "Times the queue was flushed."],
  journal_rewrites: ["kestrel_queue_journal_rewrites_total", "counter", "Times the journal was written anew from the live items (compaction, flush, drained, rebuilt)."],
  journal_rotations: ["kestrel_queue_journal_rotations_total", "counter", "Journal segments sealed because they reached max_journal_size."],
};

/**
 * Binds the admin port; `context` is called on each request (the server binds before it has its
 * queues), `history` is what /history.json serves.
 */
export function startAdminHttp(context: () => ServerContext, history: History, hostname: string, port: number): Server<undefined> {
  const snapshots = new SnapshotPool((done) => takeSnapshotInTurns(context(), done));
  return Bun.serve({
    hostname,
    port,
    development: false,
    // Only PUT /status has a body, a word: nobody can make the server buffer a large one.
    maxRequestBodySize: 1024,
    async fetch(request, server) {
      const url = new URL(request.url);
      try {
        const action = findAction(request.method, url.pathname);
        if (action !== null) return await action(request, server.requestIP(request)?.address ?? "unknown", context());
        return await route(request, url, context(), history, snapshots);
      } catch (error) {
        log.error(`admin HTTP: internal error in ${request.method} ${url.pathname}: ${errorText(error)}`);
        return new Response("internal error\n", { status: 500 });
      }
    },
  });
}

function route(request: Request, url: URL, ctx: ServerContext, history: History, snapshots: SnapshotPool): Response | Promise<Response> {
  const path = url.pathname;
  if (request.method !== "GET") {
    const allow = actionMethods(path) ?? "GET";
    return new Response(`method not allowed: ${path} takes ${allow}\n`, { status: 405, headers: { allow } });
  }
  if (path === "/health") return health(ctx);
  const hooks = bodyHooks(ctx, path);
  if (path === "/stats.json") return fromSnapshot(snapshots, request.signal, (snapshot) => [statsJson(snapshot), "application/json;charset=utf-8"], hooks);
  if (path === "/metrics") return fromSnapshot(snapshots, request.signal, (snapshot) => [metrics(snapshot), "text/plain; version=0.0.4; charset=utf-8"], hooks);
  if (path === "/status") return text(200, ctx.status.current);
  if (path === "/history.json") return historyJson(url, history);
  if (path === "/config.json") return streamedResponse(configJson(url, ctx), "application/json;charset=utf-8", hooks);
  return dashboardFile(path) ?? text(404, "not found: try /, /health, /stats.json, /metrics, /history.json, /config.json or /status");
}

/** `?after=<n>`: only the samples after number n (the `last` of an earlier answer). */
function historyJson(url: URL, history: History): Response {
  const after = url.searchParams.get("after") ?? "-1";
  if (!/^(-1|\d{1,15})$/.test(after)) return text(400, `after must be a sample number, not ${JSON.stringify(after)}`);
  return Response.json(history.toJson(Number(after)));
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
 * A reply made from a shared snapshot (snapshot_pool.ts), held until the body is sent; a client
 * gone before its snapshot began gets nothing made for it.
 */
async function fromSnapshot(
  snapshots: SnapshotPool,
  signal: AbortSignal,
  body: (snapshot: Snapshot) => readonly [Iterator<string>, string],
  hooks: BodyHooks,
): Promise<Response> {
  const lease = await snapshots.lease(signal);
  if (lease === null) return text(503, "the client went away");
  const [pieces, contentType] = body(lease.snapshot);
  return streamedResponse(pieces, contentType, { ...hooks, onEnd: lease.release });
}

/** A streamed body's failures are logged; its bytes count as traffic for the memory pacer. */
function bodyHooks(ctx: ServerContext, path: string): BodyHooks {
  return {
    onError: (error) => log.error(`admin HTTP: internal error in GET ${path}, the reply cut short: ${errorText(error)}`),
    onChunk: (bytes) => ctx.pacer.traffic(bytes),
  };
}

/** /stats.json, a queue at a time: `{"server": ..., "queues": {name: stats, ...}, "aliases": ...}`. */
function* statsJson(snapshot: Snapshot): Generator<string> {
  yield `{"server":${JSON.stringify(Object.fromEntries(snapshot.server))},"queues":{`;
  for (const [i, queue] of snapshot.queues.entries()) {
    const stats = {
      ...Object.fromEntries(QUEUE_STAT_NAMES.map(([name, field]) => [name, queue.stats[field]])),
      children: queue.children,
      journal_failure: queue.journalFailure,
    };
    yield `${i === 0 ? "" : ","}${JSON.stringify(queue.name)}:${JSON.stringify(stats)}`;
  }
  const aliases = snapshot.aliases.map((alias) => [alias.name, { put_items: alias.putItems, put_bytes: alias.putBytes, destination_queues: alias.destinations }]);
  yield `},"aliases":${JSON.stringify(Object.fromEntries(aliases))}}`;
}

/** The Prometheus text exposition format (version 0.0.4), a line at a time. */
function* metrics(snapshot: Snapshot): Generator<string> {
  const family = (name: string, type: MetricType, help: string) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  const server = new Map(snapshot.server);
  const { queues } = snapshot;
  yield family("kestrel_build_info", "gauge", "The running version.");
  yield `kestrel_build_info{version="${label(String(server.get("version")))}"} 1\n`;
  for (const [stat, [name, type, help]] of Object.entries(SERVER_METRICS)) yield `${family(name, type, help)}${name} ${server.get(stat)}\n`;
  yield family("kestrel_status", "gauge", "1 for the server's status (up, writeavoid, readonly, quiescent), 0 for the others.");
  for (const status of SERVER_STATUSES) yield `kestrel_status{status="${status}"} ${status === snapshot.status ? 1 : 0}\n`;
  yield family("kestrel_commands_total", "counter", "Commands served, by command.");
  for (const [stat, command] of COMMAND_STATS) yield `kestrel_commands_total{command="${command}"} ${server.get(stat)}\n`;
  for (const [stat, field] of QUEUE_STAT_NAMES) {
    const [name, type, help] = QUEUE_METRICS[stat]!;
    yield family(name, type, help);
    for (const queue of queues) yield `${name}{queue="${label(queue.name)}"} ${queue.stats[field]}\n`;
  }
  yield family("kestrel_queue_children", "gauge", "Live fanout children of the queue.");
  for (const queue of queues) yield `kestrel_queue_children{queue="${label(queue.name)}"} ${queue.children.length}\n`;
  yield family("kestrel_alias_put_items_total", "counter", "Sets to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) yield `kestrel_alias_put_items_total{alias="${label(alias.name)}"} ${alias.putItems}\n`;
  yield family("kestrel_alias_put_bytes_total", "counter", "Bytes of item data set to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) yield `kestrel_alias_put_bytes_total{alias="${label(alias.name)}"} ${alias.putBytes}\n`;
  yield family("kestrel_queue_journal_failing", "gauge", "1 while the queue's journal can't be written (or, for a queue not served, opened).");
  for (const queue of queues) yield `kestrel_queue_journal_failing{queue="${label(queue.name)}"} ${queue.journalFailure === null ? 0 : 1}\n`;
  for (const queue of snapshot.unavailable) yield `kestrel_queue_journal_failing{queue="${label(queue.name)}"} 1\n`;
}

/** A label value, escaped as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
