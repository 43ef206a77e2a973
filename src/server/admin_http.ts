/**
 * The admin HTTP endpoint (Bun.serve; off unless admin_port is set): /health, /stats.json and
 * Prometheus /metrics, all read from one stats snapshot. A request that fails (a bug) gets a 500
 * and one log line, never Bun's page or a stack trace; the server goes on.
 *
 * Read-only by construction: it is handed a function that takes a snapshot and nothing else, so
 * no request can change the server's state; any method but GET is answered 405.
 */
import type { Server } from "bun";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { QUEUE_STAT_NAMES, type Snapshot } from "./snapshot.ts";

type MetricType = "gauge" | "counter";

/** Server stats as metrics: stats name -> metric name, type, help. */
const SERVER_METRICS: Readonly<Record<string, readonly [string, MetricType, string]>> = {
  uptime: ["kestrel_uptime_seconds", "gauge", "Seconds since the server started."],
  curr_items: ["kestrel_items", "gauge", "Items queued, all queues."],
  total_items: ["kestrel_items_added_total", "counter", "Items ever added, all queues."],
  bytes: ["kestrel_bytes", "gauge", "Bytes of item data queued, all queues."],
  curr_connections: ["kestrel_connections", "gauge", "Client connections open."],
  total_connections: ["kestrel_connections_total", "counter", "Client connections ever accepted."],
  accepting: ["kestrel_accepting", "gauge", "1 while the memcache port accepts connections, 0 while backed off for lack of file descriptors."],
  listen_backoffs: ["kestrel_listen_backoffs_total", "counter", "Times the memcache port stopped accepting for lack of file descriptors."],
  get_hits: ["kestrel_get_hits_total", "counter", "Gets and peeks that returned an item."],
  get_misses: ["kestrel_get_misses_total", "counter", "Gets and peeks that returned no item."],
  bytes_read: ["kestrel_read_bytes_total", "counter", "Protocol bytes received."],
  bytes_written: ["kestrel_written_bytes_total", "counter", "Protocol bytes sent."],
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
  age: ["kestrel_queue_age_milliseconds", "gauge", "How long the last item taken had waited."],
  discarded: ["kestrel_queue_discarded_total", "counter", "Items dropped by discard_old_when_full."],
  waiters: ["kestrel_queue_waiters", "gauge", "Clients blocked in a get with a timeout."],
  open_transactions: ["kestrel_queue_open_transactions", "gauge", "Items handed out by open and not yet closed."],
};

/** Binds the admin port; `takeSnapshot` is called on each request (the server binds before it has its queues). */
export function startAdminHttp(takeSnapshot: () => Snapshot, hostname: string, port: number): Server<undefined> {
  return Bun.serve({
    hostname,
    port,
    development: false,
    fetch(request) {
      const path = new URL(request.url).pathname;
      try {
        return route(request.method, path, takeSnapshot);
      } catch (error) {
        log.error(`admin HTTP: internal error in ${request.method} ${path}: ${errorText(error)}`);
        return new Response("internal error\n", { status: 500 });
      }
    },
  });
}

function route(method: string, path: string, takeSnapshot: () => Snapshot): Response {
  if (method !== "GET") return new Response("method not allowed: this endpoint is read-only\n", { status: 405, headers: { allow: "GET" } });
  if (path === "/health") return health(takeSnapshot());
  if (path === "/stats.json") return Response.json(statsJson(takeSnapshot()));
  if (path === "/metrics") return new Response(metrics(takeSnapshot()), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  return new Response("not found: try /health, /stats.json or /metrics\n", { status: 404 });
}

function health(snapshot: Snapshot): Response {
  const failing = [
    ...snapshot.queues.filter((queue) => queue.journalFailure !== null).map((queue) => ({ queue: queue.name, error: queue.journalFailure })),
    ...snapshot.unavailable.map((queue) => ({ queue: queue.name, error: queue.reason })),
  ];
  const status = failing.length === 0 ? "ok" : "degraded";
  return Response.json({ status, queues: snapshot.queues.length, failing }, { status: failing.length === 0 ? 200 : 503 });
}

function statsJson(snapshot: Snapshot): object {
  return {
    server: Object.fromEntries(snapshot.server),
    queues: Object.fromEntries(
      snapshot.queues.map((queue) => [
        queue.name,
        { ...Object.fromEntries(QUEUE_STAT_NAMES.map(([name, field]) => [name, queue.stats[field]])), journal_failure: queue.journalFailure },
      ]),
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
  family("kestrel_commands_total", "counter", "Commands served, by command.");
  for (const [stat, command] of COMMAND_STATS) lines.push(`kestrel_commands_total{command="${command}"} ${server.get(stat)}`);
  for (const [stat, field] of QUEUE_STAT_NAMES) {
    const [name, type, help] = QUEUE_METRICS[stat]!;
    family(name, type, help);
    for (const queue of snapshot.queues) lines.push(`${name}{queue="${label(queue.name)}"} ${queue.stats[field]}`);
  }
  family("kestrel_queue_journal_failing", "gauge", "1 while the queue's journal can't be written (or, for a queue not served, opened).");
  for (const queue of snapshot.queues) lines.push(`kestrel_queue_journal_failing{queue="${label(queue.name)}"} ${queue.journalFailure === null ? 0 : 1}`);
  for (const queue of snapshot.unavailable) lines.push(`kestrel_queue_journal_failing{queue="${label(queue.name)}"} 1`);
  return `${lines.join("\n")}\n`;
}

/** A label value, escaped as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
