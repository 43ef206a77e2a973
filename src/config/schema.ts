/**
 * Every config key: its TOML name, type, default and meaning.
 *
 * This table is the single source for parsing, defaults, `dump_config` and the configuration
 * reference in docs/configuration.md (a test checks the two agree). Server keys live at the top
 * level; queue keys may be set at the top level (defaults for every queue) and in
 * `[queues.<name>]` (overrides for one queue).
 */
import type { SyncPolicy } from "../journal/sync_policy.ts";
import { describeSyncPolicy } from "../journal/sync_policy.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import * as v from "./values.ts";

/** Which peers may run the administrative commands (`admin_commands`). */
export const ADMIN_COMMAND_POLICIES = ["loopback", "all", "none"] as const;
export type AdminCommandPolicy = (typeof ADMIN_COMMAND_POLICIES)[number];

/**
 * A server's status (Kestrel 2), least strict first: `up`; `writeavoid` (everything allowed, clients
 * should prefer other servers for writes); `readonly` (sets refused, gets served: the server
 * drains); `quiescent` (sets and gets refused). src/server/status.ts gives them their meaning.
 */
export const SERVER_STATUSES = ["up", "writeavoid", "readonly", "quiescent"] as const;
export type ServerStatusName = (typeof SERVER_STATUSES)[number];

export interface QueueConfig {
  readonly maxItems: number;
  readonly maxSize: number;
  readonly maxItemSize: number;
  readonly discardOldWhenFull: boolean;
  readonly maxAge: number;
  readonly ignoreClientExpiry: boolean;
  readonly moveExpiredTo: string | null;
  readonly maxExpireSweep: number;
  readonly fanoutOnly: boolean;
  readonly maxQueueAge: number;
  readonly journal: boolean;
  readonly syncJournal: SyncPolicy;
  readonly maxJournalSize: number;
  readonly maxJournalOverflow: number;
  readonly maxMemorySize: number;
  readonly openTransactionTimeout: number;
  readonly maxOpenTransactions: number;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Kestrel 2's text protocol port; 0: no text listener. */
  readonly textPort: number;
  readonly queuePath: string;
  readonly timeout: number;
  readonly expirationTimerFrequency: number;
  readonly maxConnections: number;
  readonly maxRequestSize: number;
  readonly maxPendingRequestBytes: number;
  /** Queues served at most (fanout children included); a new name past it is refused. */
  readonly maxQueues: number;
  readonly adminCommands: AdminCommandPolicy;
  readonly authFile: string | null;
  readonly logLevel: LogLevel;
  readonly logFile: string | null;
  readonly adminHost: string;
  readonly adminPort: number | null;
  readonly adminToken: string | null;
  readonly defaultStatus: ServerStatusName;
}

export interface KeySpec<C> {
  readonly key: string;
  readonly field: keyof C;
  readonly parse: v.Parser<unknown>;
  readonly defaultValue: unknown;
  /** The default as written in a config file and in the docs. */
  readonly defaultText: string;
  readonly doc: string;
}

function key<C, K extends keyof C>(key: string, field: K, parse: v.Parser<C[K]>, defaultText: string, doc: string): KeySpec<C> {
  const defaultValue = parse(parseDefault(defaultText));
  if (defaultValue instanceof v.Mismatch) throw new Error(`bad default for ${key}`);
  return { key, field, parse, defaultValue, defaultText, doc };
}

/** Defaults are written as TOML literals: a quoted string, a number or a boolean. */
function parseDefault(text: string): unknown {
  if (text.startsWith('"')) return text.slice(1, -1);
  if (text === "true" || text === "false") return text === "true";
  return Number(text);
}

/**
 * The smallest max_journal_size: below it nearly every write would seal a segment (at 0, every
 * one), leaving a file per batch.
 */
const MIN_JOURNAL_SIZE = 1024;

/** The largest max_open_transactions: a connection's open items on a queue are a list it searches. */
const MAX_OPEN_TRANSACTIONS = 100_000;

const seconds = v.duration("seconds", 1000, v.MAX_TIMER_MS);
const milliseconds = v.duration("milliseconds", 1);
const timerMilliseconds = v.duration("milliseconds", 1, v.MAX_TIMER_MS);

export const SERVER_KEYS: readonly KeySpec<ServerConfig>[] = [
  key("host", "host", v.text, '"127.0.0.1"', 'Address to listen on for memcache clients: "127.0.0.1" is this machine only, "0.0.0.0" every interface.'),
  key("port", "port", v.integer(0, 65535), "22133", "TCP port for memcache clients (0 picks a free port)."),
  key("text_port", "textPort", v.integer(0, 65535), "0", "TCP port for Kestrel 2's text protocol, on `host`; 0 = off."),
  key("queue_path", "queuePath", v.text, '"kestrel-data"', "Directory holding the journals; relative paths are relative to the config file."),
  key("timeout", "timeout", seconds, "0", "Close client connections idle this long (seconds, or a duration string); 0 = never."),
  key(
    "expiration_timer_frequency",
    "expirationTimerFrequency",
    timerMilliseconds,
    '"1s"',
    "How often expired items are swept from the head of every queue (milliseconds, or a duration string); 0 = only on access.",
  ),
  key("max_connections", "maxConnections", v.positiveCount, '"unlimited"', "Refuse client connections beyond this many."),
  key(
    "max_request_size",
    "maxRequestSize",
    v.size(false),
    '"64MiB"',
    "Largest `set` accepted; a bigger one is answered SERVER_ERROR and the connection closed.",
  ),
  key(
    "max_pending_request_bytes",
    "maxPendingRequestBytes",
    v.size(true),
    '"256MiB"',
    "Request bytes held for all clients at once (sets still arriving, requests not yet run); past it, clients sending big requests wait until memory is given back.",
  ),
  key(
    "max_queues",
    "maxQueues",
    v.positiveCount,
    "100000",
    "Queues served at most, fanout children included (each costs 5-10 KB and a journal file); a set or get that would create one more is refused with SERVER_ERROR, and queues loaded at start are never refused.",
  ),
  key(
    "admin_commands",
    "adminCommands",
    v.oneOf(ADMIN_COMMAND_POLICIES),
    '"loopback"',
    'Who may run shutdown, reload, delete, flush, flush_all and change the status (`status <new>`, PUT /status): "loopback" (clients on 127.0.0.0/8 or ::1), "all" or "none".',
  ),
  key(
    "auth_file",
    "authFile",
    v.optional(v.text),
    '""',
    "A file of user:password lines; when set, a client must authenticate before any other command (empty = no authentication).",
  ),
  key("log_level", "logLevel", v.oneOf(LOG_LEVELS), '"info"', "Least severe log level written: debug, info, warn or error."),
  key("log_file", "logFile", v.optional(v.text), '""', "Append the log to this file instead of stderr (empty = stderr)."),
  key("admin_host", "adminHost", v.text, '"127.0.0.1"', "Address of the admin HTTP server."),
  key(
    "admin_port",
    "adminPort",
    v.optional(v.integer(0, 65535)),
    "false",
    "Port of the admin HTTP server (the dashboard, /health, /stats.json, /metrics); false = off, 0 = any free port.",
  ),
  key(
    "admin_token",
    "adminToken",
    v.optional(v.bearerToken),
    '""',
    "A secret of at least 16 characters (letters, digits and -._~+/); when set, the admin HTTP requests that change something (PUT /status, flushing or deleting a queue) must carry `Authorization: Bearer <token>` (empty = no token).",
  ),
  key(
    "default_status",
    "defaultStatus",
    v.oneOf(SERVER_STATUSES),
    '"up"',
    'The server status at start when none was saved in queue_path: "up", "writeavoid", "readonly" or "quiescent".',
  ),
];

export const QUEUE_KEYS: readonly KeySpec<QueueConfig>[] = [
  key("max_items", "maxItems", v.count, '"unlimited"', "Most items the queue holds."),
  key("max_size", "maxSize", v.size(true), '"unlimited"', "Most bytes of item data the queue holds."),
  key("max_item_size", "maxItemSize", v.size(true), '"unlimited"', "Larger items are refused with NOT_STORED."),
  key("discard_old_when_full", "discardOldWhenFull", v.boolean, "false", "When full, drop the oldest items instead of refusing new ones."),
  key("max_age", "maxAge", milliseconds, "0", "Caps every item's expiry (milliseconds, or a duration string); 0 = no cap."),
  key(
    "ignore_client_expiry",
    "ignoreClientExpiry",
    v.boolean,
    "false",
    "Ignore the exptime a client gives in `set` (some clients always send one); max_age still applies.",
  ),
  key("move_expired_to", "moveExpiredTo", v.optional(v.text), '""', "Expired items are added to this queue instead of dropped (empty = drop)."),
  key(
    "max_expire_sweep",
    "maxExpireSweep",
    v.count,
    '"unlimited"',
    "Most expired items the periodic sweep, and one flush_expired, remove from the queue at a time (0 = the sweep removes none; items still expire when reached).",
  ),
  key("fanout_only", "fanoutOnly", v.boolean, "false", "The queue keeps no items: a set to it only feeds its fanout children (`<queue>+<child>`)."),
  key(
    "max_queue_age",
    "maxQueueAge",
    milliseconds,
    "0",
    "Delete the queue, with its journal, once it is empty and was created (or loaded) this long ago (milliseconds, or a duration string); checked by the expiry sweep; 0 = never.",
  ),
  key("journal", "journal", v.boolean, "true", "Keep a journal on disk; false = memory only, lost on restart."),
  key(
    "sync_journal",
    "syncJournal",
    v.syncPolicy,
    "false",
    'When journal writes are fsynced: false/"never" (left to the OS), true/"always" (before STORED, group-committed), or an interval like "20ms".',
  ),
  key(
    "max_journal_size",
    "maxJournalSize",
    v.size(false, MIN_JOURNAL_SIZE),
    '"16MiB"',
    "Journal segments are sealed at this size (at least 1KiB); sealed segments are deleted once everything in them is consumed.",
  ),
  key(
    "max_journal_overflow",
    "maxJournalOverflow",
    v.integer(1, 1_000_000),
    "10",
    "Rewrite the journal when it exceeds this many times max_journal_size while its live items, written anew (their data and records), would be smaller than max_journal_size.",
  ),
  key(
    "max_memory_size",
    "maxMemorySize",
    v.size(false),
    '"128MiB"',
    "Item bytes kept in memory, each item counting 64 bytes besides its data (so a queue of empty items is bounded too); beyond this, new items stay only in the journal and are read back as the queue drains (read-behind).",
  ),
  key(
    "open_transaction_timeout",
    "openTransactionTimeout",
    timerMilliseconds,
    "0",
    "An item opened (`get <queue>/open`, `monitor`) and neither closed nor aborted this long (milliseconds, or a duration string) after its reply went out to the client goes back to the head of the queue; 0 = never.",
  ),
  key(
    "max_open_transactions",
    "maxOpenTransactions",
    v.integer(1, MAX_OPEN_TRANSACTIONS),
    "1",
    "Most items one connection may hold open (`get <queue>/open`, `monitor`) on the queue at once; one more `open` is refused with ERROR.",
  ),
];

function defaultsOf<C>(specs: readonly KeySpec<C>[]): C {
  // The key() helper checked each default against its field's type.
  return Object.fromEntries(specs.map((spec) => [spec.field, spec.defaultValue])) as C;
}

export const DEFAULT_SERVER_CONFIG: ServerConfig = defaultsOf(SERVER_KEYS);
export const DEFAULT_QUEUE_CONFIG: QueueConfig = defaultsOf(QUEUE_KEYS);

/** A value as `dump_config` shows it. */
export function showValue(value: unknown): string {
  if (value === Infinity) return "unlimited";
  if (value === null) return "none";
  if (typeof value === "object" && value !== null && "kind" in value) return describeSyncPolicy(value as SyncPolicy);
  return String(value);
}
