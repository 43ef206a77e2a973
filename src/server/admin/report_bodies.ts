/**
 * The bodies of /stats.json and /metrics, made from a stats snapshot (snapshot.ts) and written a
 * queue or a line at a time into a streamed body's chunks (chunk_writer.ts, render_chunks.ts):
 * each `yield` is a point where the body may stop for the turn.
 *
 * No string is made per line: at 5,000 queues /metrics is 100,000 lines, and made as template
 * strings, joined and encoded, one reader's body left 26-31 MiB to collect (4.3 MB sent).
 * Names, numbers and fixed text are written as they are; only a name with a character to escape
 * (a queue name may hold `"` or `\`) and the rare text values (a journal failure, children) are
 * made into strings first.
 */
import { SERVER_STATUSES } from "../../config/schema.ts";
import { QUEUE_STAT_NAMES, type Snapshot } from "../snapshot.ts";
import type { ChunkWriter } from "./chunk_writer.ts";

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
  accepting: ["kestrel_accepting", "gauge", "1 while the memcache port accepts connections, 0 while backed off for lack of file descriptors (as the last of the memcache, text and admin ports to change says)."],
  listen_backoffs: ["kestrel_listen_backoffs_total", "counter", "Times the memcache, text or admin port stopped accepting for lack of file descriptors."],
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
  item_buffer_bytes: ["kestrel_item_buffer_bytes", "gauge", "Bytes of the buffers holding the bytes of items in memory, queued and open (slabs, big items' own buffers)."],
  item_live_bytes: ["kestrel_item_live_bytes", "gauge", "Bytes the items in memory, queued and open, use in those buffers (bytes fanout children share once per queue)."],
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

/** /stats.json, a queue at a time: `{"server": ..., "queues": {name: stats, ...}, "aliases": ...}`. */
export function* statsJson(snapshot: Snapshot, out: ChunkWriter): Generator<void> {
  out.text(`{"server":${JSON.stringify(Object.fromEntries(snapshot.server))},"queues":{`);
  yield;
  for (const [i, queue] of snapshot.queues.entries()) {
    if (i > 0) out.text(",");
    out.text(JSON.stringify(queue.name));
    out.text(":");
    for (const [n, [, field]] of QUEUE_STAT_NAMES.entries()) {
      out.text(STAT_KEYS[n]!);
      jsonNumber(out, queue.stats[field]);
    }
    out.text(`,"children":`);
    out.text(queue.children.length === 0 ? "[]" : JSON.stringify(queue.children));
    out.text(`,"journal_failure":`);
    out.text(JSON.stringify(queue.journalFailure));
    out.text("}");
    yield;
  }
  const aliases = snapshot.aliases.map((alias) => [alias.name, { put_items: alias.putItems, put_bytes: alias.putBytes, destination_queues: alias.destinations }]);
  out.text(`},"aliases":${JSON.stringify(Object.fromEntries(aliases))}}`);
}

/** `{"items":`, `,"bytes":`, ...: what goes before each of a queue's figures in /stats.json. */
const STAT_KEYS = QUEUE_STAT_NAMES.map(([name], n) => `${n === 0 ? "{" : ","}${JSON.stringify(name)}:`);

/** A number as JSON writes it (null for NaN and infinities). */
function jsonNumber(out: ChunkWriter, value: number): void {
  if (Number.isFinite(value)) out.number(value);
  else out.text("null");
}

/** The Prometheus text exposition format (version 0.0.4), a line at a time. */
export function* metrics(snapshot: Snapshot, out: ChunkWriter): Generator<void> {
  const family = (name: string, type: MetricType, help: string) => out.text(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
  const server = new Map(snapshot.server);
  const { queues } = snapshot;
  family("kestrel_build_info", "gauge", "The running version.");
  out.text(`kestrel_build_info{version="${label(String(server.get("version")))}"} 1\n`);
  for (const [stat, [name, type, help]] of Object.entries(SERVER_METRICS)) {
    family(name, type, help);
    out.text(`${name} ${server.get(stat)}\n`);
  }
  family("kestrel_status", "gauge", "1 for the server's status (up, writeavoid, readonly, quiescent), 0 for the others.");
  for (const status of SERVER_STATUSES) out.text(`kestrel_status{status="${status}"} ${status === snapshot.status ? 1 : 0}\n`);
  family("kestrel_commands_total", "counter", "Commands served, by command.");
  for (const [stat, command] of COMMAND_STATS) out.text(`kestrel_commands_total{command="${command}"} ${server.get(stat)}\n`);
  yield;
  for (const [stat, field] of QUEUE_STAT_NAMES) {
    const [name, type, help] = QUEUE_METRICS[stat]!;
    family(name, type, help);
    const start = `${name}{queue="`;
    for (const queue of queues) {
      labelled(out, start, queue.name, queue.stats[field]);
      yield;
    }
  }
  family("kestrel_queue_children", "gauge", "Live fanout children of the queue.");
  for (const queue of queues) {
    labelled(out, 'kestrel_queue_children{queue="', queue.name, queue.children.length);
    yield;
  }
  family("kestrel_alias_put_items_total", "counter", "Sets to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) labelled(out, 'kestrel_alias_put_items_total{alias="', alias.name, alias.putItems);
  family("kestrel_alias_put_bytes_total", "counter", "Bytes of item data set to the alias since start (or since the alias was set up).");
  for (const alias of snapshot.aliases) labelled(out, 'kestrel_alias_put_bytes_total{alias="', alias.name, alias.putBytes);
  yield;
  family("kestrel_queue_journal_failing", "gauge", "1 while the queue's journal can't be written (or, for a queue not served, opened).");
  for (const queue of queues) {
    labelled(out, 'kestrel_queue_journal_failing{queue="', queue.name, queue.journalFailure === null ? 0 : 1);
    yield;
  }
  for (const queue of snapshot.unavailable) labelled(out, 'kestrel_queue_journal_failing{queue="', queue.name, 1);
}

/** One sample line: `<metric>{<key>="<value>"} <number>`, the part before the value being `start`. */
function labelled(out: ChunkWriter, start: string, value: string, sample: number): void {
  out.text(start);
  out.text(ESCAPED_IN_LABELS.test(value) ? label(value) : value);
  out.text('"} ');
  out.number(sample);
  out.text("\n");
}

/** The characters a label value must escape. */
const ESCAPED_IN_LABELS = /[\\"\n]/;

/** A label value, escaped as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
