/**
 * The admin HTTP endpoint (Bun.serve; off unless admin_port is set): /health, /stats.json and
 * Prometheus /metrics, all read from one stats snapshot, and the server status (GET and PUT
 * /status). A request that fails (a bug) gets a 500 and one log line, never Bun's page or a stack
 * trace; the server goes on.
 *
 * Read-only but for one action: `PUT /status` changes the server status, through the same gate as
 * the memcache `status <new>` (admin_commands by the peer's address, and the auth file's users
 * while one is in force; access.ts) and the same `ServerStatus.change`. Any other method but GET
 * is answered 405.
 */
import type { Server } from "bun";
import { SERVER_STATUSES } from "../config/schema.ts";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { admitHttpAdmin } from "./access.ts";
import type { ServerContext } from "./context.ts";
import { QUEUE_STAT_NAMES, takeSnapshot, type Snapshot } from "./snapshot.ts";
import { parseStatus } from "./status.ts";

/** The part of a PUT /status body that is read: a status name and some whitespace fit. */
const MAX_STATUS_BODY_BYTES = 64;

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
  queue_deletes: ["kestrel_queue_deletes_total", "counter", "Queues deleted since start (expired ones included)."],
  queue_expires: ["kestrel_queue_expires_total", "counter", "Queues deleted by max_queue_age since start."],
  memory_collections: ["kestrel_memory_collections_total", "counter", "Garbage collections run to keep memory near the live data."],
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

/** Binds the admin port; `context` is called on each request (the server binds before it has its queues). */
export function startAdminHttp(context: () => ServerContext, hostname: string, port: number): Server<undefined> {
  return Bun.serve({
    hostname,
    port,
    development: false,
    // Only PUT /status has a body, a word: nobody can make the server buffer a large one.
    maxRequestBodySize: 1024,
    async fetch(request, server) {
      const path = new URL(request.url).pathname;
      try {
        if (path === "/status" && request.method === "PUT") return await putStatus(request, server.requestIP(request)?.address ?? "unknown", context());
        return route(request.method, path, context());
      } catch (error) {
        log.error(`admin HTTP: internal error in ${request.method} ${path}: ${errorText(error)}`);
        return new Response("internal error\n", { status: 500 });
      }
    },
  });
}

function route(method: string, path: string, ctx: ServerContext): Response {
  if (method !== "GET") {
    const allow = path === "/status" ? "GET, PUT" : "GET";
    return new Response(`method not allowed: ${path} takes ${allow}\n`, { status: 405, headers: { allow } });
  }
  if (path === "/health") return health(takeSnapshot(ctx));
  if (path === "/stats.json") return Response.json(statsJson(takeSnapshot(ctx)));
  if (path === "/metrics") return new Response(metrics(takeSnapshot(ctx)), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  if (path === "/status") return text(200, ctx.status.current);
  return new Response("not found: try /health, /stats.json, /metrics or /status\n", { status: 404 });
}

/** PUT /status: the body names the new status (any case); answers the status in force after it. */
async function putStatus(request: Request, peer: string, ctx: ServerContext): Promise<Response> {
  const body = (await request.text()).slice(0, MAX_STATUS_BODY_BYTES);
  // Admission first, as on the memcache port: a peer that may not change the status learns nothing more.
  const admission = admitHttpAdmin(`PUT /status ${body.trim()}`, peer, request.headers.get("authorization"), ctx);
  if (admission === "unauthenticated") return new Response("authentication required: a user of the auth file, with HTTP Basic\n", { status: 401, headers: { "www-authenticate": 'Basic realm="kestrel"' } });
  if (admission === "forbidden") return text(403, `PUT /status is not allowed from ${peer} (admin_commands = "${ctx.config().server.adminCommands}")`);
  const next = parseStatus(body);
  if (next === null) return text(400, `unknown status ${JSON.stringify(body)}: expected one of ${SERVER_STATUSES.join(", ")}`);
  const error = ctx.status.change(next, `${peer} (admin HTTP)`);
  return error === null ? text(200, next) : text(500, error);
}

function text(status: number, body: string): Response {
  return new Response(`${body}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function health(snapshot: Snapshot): Response {
  const failing = [
    ...snapshot.queues.filter((queue) => queue.journalFailure !== null).map((queue) => ({ queue: queue.name, error: queue.journalFailure })),
    ...snapshot.unavailable.map((queue) => ({ queue: queue.name, error: queue.reason })),
  ];
  const status = failing.length === 0 ? "ok" : "degraded";
  // The server status is shown, not judged: a readonly or quiescent server is healthy (a probe
  // that failed it would restart a server being drained).
  return Response.json({ status, server_status: snapshot.status, queues: snapshot.queues.length, failing }, { status: failing.length === 0 ? 200 : 503 });
}

function statsJson(snapshot: Snapshot): object {
  return {
    server: Object.fromEntries(snapshot.server),
    queues: Object.fromEntries(
      snapshot.queues.map((queue) => [
        queue.name,
        {
          ...Object.fromEntries(QUEUE_STAT_NAMES.map(([name, field]) => [name, queue.stats[field]])),
          children: queue.children,
          journal_failure: queue.journalFailure,
        },
      ]),
    ),
    aliases: Object.fromEntries(
      snapshot.aliases.map((alias) => [alias.name, { put_items: alias.putItems, put_bytes: alias.putBytes, destination_queues: alias.destinations }]),
    ),
  };
}

/** The Prometheus text exposition format (version 0.0.4). */
function metrics(snapshot: Snapshot): string {
  const lines: string[] = [];
  const family = (name: string, type: MetricType, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const server = new Map(snapshot.server);
  family("kestrel_build_info", "gauge", "The running version.");
  lines.push(`kestrel_build_info{version="${label(String(server.get("version")))}"} 1`);
  for (const [stat, [name, type, help]] of Object.entries(SERVER_METRICS)) {
    family(name, type, help);
    lines.push(`${name} ${server.get(stat)}`);
  }
  family("kestrel_status", "gauge", "1 for the server's status (up, writeavoid, readonly, quiescent), 0 for the others.");
  for (const status of SERVER_STATUSES) lines.push(`kestrel_status{status="${status}"} ${status === snapshot.status ? 1 : 0}`);
  family("kestrel_commands_total", "counter", "Commands served, by command.");
  for (const [stat, command] of COMMAND_STATS) lines.push(`kestrel_commands_total{command="${command}"} ${server.get(stat)}`);
  for (const [stat, field] of QUEUE_STAT_NAMES) {
    const [name, type, help] = QUEUE_METRICS[stat]!;
    family(name, type, help);
    for (const queue of snapshot.queues) lines.push(`${name}{queue="${label(queue.name)}"} ${queue.stats[field]}`);
  }
  family("kestrel_queue_children", "gauge", "Live fanout children of the queue.");
  for (const queue of snapshot.queues) lines.push(`kestrel_queue_children{queue="${label(queue.name)}"} ${queue.children.length}`);
  family("kestrel_alias_put_items_total", "counter", "Sets to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) lines.push(`kestrel_alias_put_items_total{alias="${label(alias.name)}"} ${alias.putItems}`);
  family("kestrel_alias_put_bytes_total", "counter", "Bytes of item data set to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) lines.push(`kestrel_alias_put_bytes_total{alias="${label(alias.name)}"} ${alias.putBytes}`);
  family("kestrel_queue_journal_failing", "gauge", "1 while the queue's journal can't be written (or, for a queue not served, opened).");
  for (const queue of snapshot.queues) lines.push(`kestrel_queue_journal_failing{queue="${label(queue.name)}"} ${queue.journalFailure === null ? 0 : 1}`);
  for (const queue of snapshot.unavailable) lines.push(`kestrel_queue_journal_failing{queue="${label(queue.name)}"} 1`);
  return `${lines.join("\n")}\n`;
}

/** A label value, escaped as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
