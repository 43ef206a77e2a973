/**
 * The bounds the server promises against hostile clients, as the attack benchmark checks them:
 * the documented figures (docs/configuration.md, docs/protocol.md, issue 9) and the allowances
 * the benchmark grants where the promise is in words ("a few KB"), in one place, and the ceiling
 * of an attack built from them.
 *
 * These are the promises, written down here on purpose rather than imported from src/: a bound
 * that moved in the code must show up as a failed ceiling, not as a ceiling that moved with it.
 */
import { readFileSync } from "node:fs";

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** `max_request_size` and `max_pending_request_bytes` when the config leaves them out. */
export const DEFAULT_MAX_REQUEST_SIZE = 64 * MiB;
export const DEFAULT_MAX_PENDING_REQUEST_BYTES = 256 * MiB;
/** `max_memory_size` when the config leaves it out: what one queue keeps in memory (read-behind past it). */
export const DEFAULT_MAX_MEMORY_SIZE = 128 * MiB;
/** What an item in memory counts toward max_memory_size besides its bytes (docs/configuration.md). */
export const ITEM_MEMORY_COST = 64;
/** Request claims below this are always granted (request_budget.ts, SMALL_CLAIM). */
export const SMALL_CLAIM = 64 * KiB;
/** Reply bytes waiting for one connection before the server stops reading its requests. */
export const REPLY_BACKLOG = 4 * MiB;
/** Item bytes after which a get's reply takes no more items (one more item may cross it). */
export const GET_REPLY_ITEMS = 4 * MiB;
/** Queues one get may create. */
export const MAX_NEW_QUEUES = 100;
/** Request bytes buffered for a connection while it waits (a blocking get, its turn's budget spent). */
export const BUFFERED_WHILE_WAITING = 1 * MiB;
/** What read-behind holds past a queue's budget: one read-back slice (1 MiB, item_store.ts) and the shared 1 MiB read buffer. */
export const READ_BACK_BUFFER = 2 * MiB;
/** Request bytes a connection being read may hold past max_pending_request_bytes: one socket read (Bun 1.4 reads up to 512 KiB). */
export const SOCKET_READ = 512 * KiB;
/** What one connection may cost besides the above: a claim always granted, a socket read. */
export const CONNECTION_ALLOWANCE = 128 * KiB;
/** What an idle queue may cost ("a few KB", read generously), and no file descriptor. */
export const QUEUE_ALLOWANCE = 8 * KiB;
/** What an idle queue with a journal and a few items may cost besides its items: "7-8 KB" (docs/configuration.md), read generously. */
export const JOURNALED_QUEUE_ALLOWANCE = 10 * KiB;
/** What an item held in memory may cost besides its data (its record, its place in a queue). */
export const ITEM_ALLOWANCE = 256;
/**
 * Buffers holding items in memory (queued or open: slabs, big items' own buffers) may hold up to
 * this share of the items' bytes again besides them, plus ITEM_BUFFER_SLACK, in buffers that items
 * left (docs/configuration.md, the bounds table: "1.5 × the bytes of the items in memory + 4 MiB").
 */
export const ITEM_BUFFER_WASTE_SHARE = 0.5;
export const ITEM_BUFFER_SLACK = 4 * MiB;
/**
 * What an open item may cost besides its data: its record and its entry in the queue's open
 * items, about 200 B when opened together, but up to 4 KiB resident each when opened one at a
 * time among other traffic's garbage (they keep partly used heap blocks; docs/configuration.md).
 */
export const OPEN_ITEM_ALLOWANCE = 4 * KiB;

/** The waste the buffers holding `liveBytes` of items may keep (what the items use is counted elsewhere). */
export function itemBufferWaste(liveBytes: number): Allowance {
  return [liveBytes * ITEM_BUFFER_WASTE_SHARE + ITEM_BUFFER_SLACK, `${size(ITEM_BUFFER_SLACK)} + half the ${size(liveBytes)} of items in memory, in buffers items left`];
}
/** Stats snapshots the admin port's /stats.json and /metrics may hold at once (docs/configuration.md, the bounds table). */
export const ADMIN_SNAPSHOTS = 3;
/** What one of those snapshots may cost per queue: "about 330 B a queue" (docs/configuration.md), read generously. */
export const ADMIN_SNAPSHOT_ALLOWANCE_PER_QUEUE = 512;
/** What a streamed admin reply being sent holds: one chunk of at most 64 KiB (the rest is made as the client reads). */
export const STREAMED_CHUNK = 64 * KiB;

/**
 * What the server makes of a streamed admin reply for a client that never reads it: as much as
 * the kernel's buffers for the socket take (on loopback, up to tcp_wmem's maximum), the chunks
 * garbage until the next collection (docs/configuration.md). Read from this machine; 4 MiB
 * (Linux's default maximum) when it can't be.
 */
export function kernelSendBuffer(): number {
  try {
    const maximum = Number(readFileSync("/proc/sys/net/ipv4/tcp_wmem", "latin1").trim().split(/\s+/)[2]);
    return Number.isFinite(maximum) && maximum > 0 ? maximum : 4 * MiB;
  } catch {
    return 4 * MiB;
  }
}
/** 10,000 queues start in under this (spawn to listening). */
export const START_10K_QUEUES_MS = 1000;
/** A fresh connection's `version` must be answered within this during an attack. */
export const RESPONSIVE_MS = 1000;
/** No single stall of the event loop over this in normal operation. */
export const STALL_MS = 20;
/**
 * Garbage the server lets pile up before its memory pacer collects: it collects once its RSS has
 * grown this share past what the last collection left (docs/operations.md, "Memory and disk")...
 */
export const PACER_GROWTH = 0.1;
/** ...but at least this much. */
export const PACER_MIN_GROWTH = 8 * MiB;
/**
 * Garbage a flood of small requests at full speed makes faster than it is collected, on top of
 * the pacer's share (docs/configuration.md: "up to 64 MiB"): between the runtime's own
 * collections the heap grows 15-20 MiB over its live data, and the pacer's background
 * collections don't hold it (a full one under traffic took 14-108 ms here).
 */
export const FLOOD_GARBAGE = 64 * MiB;

/** One term of a ceiling: bytes, and what they are. */
export type Allowance = readonly [bytes: number, what: string];

export interface Ceiling {
  readonly bytes: number;
  /** `before + 256 MiB max_pending_request_bytes + 40 × 128 KiB per connection`. */
  readonly formula: string;
}

/**
 * The RSS an attack may reach: the server's RSS just before it, each allowance, and the garbage
 * the memory pacer tolerates on top of what it keeps (10% of the total, at least 8 MiB), and
 * `flood` (FLOOD_GARBAGE) for an attack that floods the server with small requests at full speed.
 */
export function ceiling(before: number, allowances: readonly Allowance[], flood: "flood" | "no flood" = "no flood"): Ceiling {
  const kept = allowances.reduce((sum, [amount]) => sum + amount, before);
  const slack = Math.max(PACER_MIN_GROWTH, kept * PACER_GROWTH);
  const terms = ["before", ...allowances.map(([, what]) => what), `${size(Math.round(slack))} garbage the pacer tolerates (10%, at least 8 MiB)`];
  if (flood === "no flood") return { bytes: kept + slack, formula: terms.join(" + ") };
  terms.push(`${size(FLOOD_GARBAGE)} garbage of a flood at full speed`);
  return { bytes: kept + slack + FLOOD_GARBAGE, formula: terms.join(" + ") };
}

/** `bytes` as the formulas write sizes: `256 MiB`, `128 KiB`, `300 B`. */
export function size(bytes: number): string {
  if (bytes >= MiB) return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

/** `count × each what`, e.g. `40 × 128 KiB per connection`. */
export function per(count: number, each: number, what: string): Allowance {
  return [count * each, `${count.toLocaleString("en-US")} × ${size(each)} ${what}`];
}

/**
 * What `connections` clients that never read their replies may make the server hold for them:
 * each 4 MiB of replies waiting, one get's reply (4 MiB and the item of `itemBytes` that crosses
 * it), 1 MiB of requests buffered and the connection's own allowance.
 */
export function unreadReplies(connections: number, itemBytes: number): Allowance {
  const each = REPLY_BACKLOG + GET_REPLY_ITEMS + itemBytes + BUFFERED_WHILE_WAITING + CONNECTION_ALLOWANCE;
  return [connections * each, `${connections} × (${size(REPLY_BACKLOG)} replies waiting + ${size(GET_REPLY_ITEMS)} + ${size(itemBytes)} one get's reply + ${size(BUFFERED_WHILE_WAITING)} requests + ${size(CONNECTION_ALLOWANCE)})`];
}
