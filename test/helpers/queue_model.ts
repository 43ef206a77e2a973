/**
 * A plain in-memory model of one queue (PersistentQueue's semantics, nothing on disk) for property
 * tests: what the queue must hold after any sequence of operations and restarts.
 *
 * Items are named by a serial the test gives them and their bytes are a pattern of that serial
 * (`modelBytes`), so the model holds no data. Every change is one event, in the order the queue
 * appends its journal records; the events since the last point where every record was known to be
 * written are kept, because a crash loses the records not yet written: the journal then holds the
 * state after some prefix of those events (`recoverFromCrash`).
 *
 * Invariants: `queue` is head first; `open` is in the order the items were (last) opened; an item
 * is in at most one of them; a restart puts the open items back at the head, in that order.
 */
import type { Item } from "../../src/journal/item.ts";
import { REQUEST_DISCARD_LIMIT } from "../../src/queue/persistent_queue.ts";

export interface ModelItem {
  readonly serial: number;
  readonly size: number;
  readonly addTime: number;
  /** Unix ms, 0 = never. */
  readonly expiry: number;
}

export interface ModelLimits {
  readonly maxItems: number;
  readonly maxSize: number;
  readonly discardOldWhenFull: boolean;
  readonly maxAge: number;
}

type ModelEvent =
  | { readonly kind: "add"; readonly item: ModelItem }
  | { readonly kind: "remove" | "open" | "abort"; readonly serial: number }
  | { readonly kind: "flush" };

interface ModelState {
  queue: ModelItem[];
  open: ModelItem[];
  /** Bytes of the items in `queue`. */
  bytes: number;
}

export class QueueModel {
  private state: ModelState = { queue: [], open: [], bytes: 0 };
  /** The state when every record was last known to be written. */
  private written: ModelState = copyOf(this.state);
  private unwritten: ModelEvent[] = [];
  private expired: ModelItem[] = [];

  constructor(private readonly limits: ModelLimits) {}

  get items(): readonly ModelItem[] {
    return this.state.queue;
  }

  get bytes(): number {
    return this.state.bytes;
  }

  get openItems(): readonly ModelItem[] {
    return this.state.open;
  }

  /** The item added (expiry capped by max_age), or "full". */
  add(serial: number, size: number, expiry: number, now: number): ModelItem | "full" {
    this.discardExpired(now, REQUEST_DISCARD_LIMIT);
    if (!this.makeRoomFor(size)) return "full";
    const item = { serial, size, addTime: now, expiry: this.cappedExpiry(expiry, now) };
    this.apply({ kind: "add", item });
    return item;
  }

  remove(now: number): ModelItem | undefined {
    return this.takeHead("remove", now);
  }

  open(now: number): ModelItem | undefined {
    return this.takeHead("open", now);
  }

  confirm(serial: number): void {
    if (this.state.open.some((item) => item.serial === serial)) this.apply({ kind: "remove", serial });
  }

  abort(serial: number): void {
    if (this.state.open.some((item) => item.serial === serial)) this.apply({ kind: "abort", serial });
  }

  peek(now: number): ModelItem | undefined {
    return this.liveHead(now);
  }

  /** Drops expired items from the head, at most `limit` (as a request does); returns how many. */
  discardExpired(now: number, limit = Infinity): number {
    let count = 0;
    for (let head = this.state.queue[0]; count < limit && head !== undefined && isModelExpired(head, now); head = this.state.queue[0]) {
      this.dropExpired(head);
      count++;
    }
    return count;
  }

  /** Drops every expired item, wherever it is in the queue; returns how many. */
  flushExpired(now: number): number {
    const expired = this.state.queue.filter((item) => isModelExpired(item, now));
    for (const item of expired) this.dropExpired(item);
    return expired.length;
  }

  flush(): void {
    this.apply({ kind: "flush" });
  }

  /** The expired items dropped since the last call, in order. */
  takeExpired(): ModelItem[] {
    return this.expired.splice(0);
  }

  /** Every change so far is known to be in the journal. */
  allWritten(): void {
    this.written = copyOf(this.state);
    this.unwritten = [];
  }

  /** What a restart must find: the open items back at the head, in the order they were opened. */
  afterRestart(): ModelItem[] {
    return restartView(this.state);
  }

  /** A clean restart: nothing was lost. */
  restart(): void {
    this.state = { queue: restartView(this.state), open: [], bytes: this.state.bytes + sizeOf(this.state.open) };
    this.allWritten();
  }

  /**
   * A crash lost the records not yet written. Among the states after each prefix of the unwritten
   * events (none of them, one, ..., all), finds the first whose restart view `matches` (it is
   * asked only about views of `count` items), restarts from it and returns true; returns false
   * and changes nothing if none matches.
   */
  recoverFromCrash(count: number, matches: (expected: readonly ModelItem[]) => boolean): boolean {
    const candidate = copyOf(this.written);
    for (let applied = 0; ; applied++) {
      if (candidate.queue.length + candidate.open.length === count && matches(restartView(candidate))) {
        this.state = candidate;
        this.restart();
        return true;
      }
      const event = this.unwritten[applied];
      if (event === undefined) return false;
      applyEvent(candidate, event);
    }
  }

  /** How many states a crash now may leave (one per prefix of the unwritten events). */
  get crashStates(): number {
    return this.unwritten.length + 1;
  }

  /** The restart view of the last state known to be written. */
  lastWritten(): ModelItem[] {
    return restartView(this.written);
  }

  private takeHead(kind: "remove" | "open", now: number): ModelItem | undefined {
    const head = this.liveHead(now);
    if (head !== undefined) this.apply({ kind, serial: head.serial });
    return head;
  }

  /** The head after a request's share of expired items is dropped; none while an expired one is still there. */
  private liveHead(now: number): ModelItem | undefined {
    this.discardExpired(now, REQUEST_DISCARD_LIMIT);
    const head = this.state.queue[0];
    return head === undefined || isModelExpired(head, now) ? undefined : head;
  }

  private dropExpired(item: ModelItem): void {
    this.apply({ kind: "remove", serial: item.serial });
    this.expired.push(item);
  }

  private isFullFor(size: number): boolean {
    return this.state.queue.length >= this.limits.maxItems || this.state.bytes + size > this.limits.maxSize;
  }

  /** With discard_old_when_full, drops the oldest items until `size` fits. */
  private makeRoomFor(size: number): boolean {
    if (!this.isFullFor(size)) return true;
    const { discardOldWhenFull, maxSize, maxItems } = this.limits;
    if (!discardOldWhenFull || size > maxSize || maxItems === 0) return false;
    while (this.isFullFor(size)) this.apply({ kind: "remove", serial: this.state.queue[0]!.serial });
    return true;
  }

  private cappedExpiry(expiry: number, now: number): number {
    const maxAge = this.limits.maxAge;
    if (maxAge <= 0) return expiry;
    return expiry === 0 ? now + maxAge : Math.min(expiry, now + maxAge);
  }

  private apply(event: ModelEvent): void {
    applyEvent(this.state, event);
    this.unwritten.push(event);
  }
}

function isModelExpired(item: ModelItem, now: number): boolean {
  return item.expiry !== 0 && item.expiry <= now;
}

/** The bytes of item `serial`: `size` bytes of a pattern no other serial shares (beyond a few bytes). */
export function modelBytes(serial: number, size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = patternByte(serial, i);
  return data;
}

/** Why `actual` is not `expected` (both may be missing), or null when it is. Times are shown relative to `origin`. */
export function itemMismatch(actual: Item | undefined, expected: ModelItem | undefined, origin: number): string | null {
  if (actual === undefined || expected === undefined) {
    return actual === expected ? null : `expected ${describeModel(expected, origin)}, got ${describeItem(actual, origin)}`;
  }
  const data = actual.data;
  let differs = data.length !== expected.size || actual.addTime !== expected.addTime || actual.expiry !== expected.expiry;
  for (let i = 0; !differs && i < data.length; i++) differs = data[i] !== patternByte(expected.serial, i);
  return differs ? `expected ${describeModel(expected, origin)}, got ${describeItem(actual, origin)}` : null;
}

/** The first difference between a queue's items and the model's, or null when they are equal. */
export function listMismatch(actual: readonly Item[], expected: readonly ModelItem[], origin: number): string | null {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const mismatch = itemMismatch(actual[i], expected[i], origin);
    if (mismatch !== null) return `${actual.length} items, expected ${expected.length}; first difference at index ${i}: ${mismatch}`;
  }
  return null;
}

function patternByte(serial: number, index: number): number {
  const mixed = Math.imul(serial, 0x9e3779b1) >>> ((index & 3) * 8);
  return (mixed + (index >>> 2)) & 0xff;
}

/** The serial an item's bytes carry (the inverse of patternByte's mixing), if it has enough of them to tell. */
function serialGuess(data: Uint8Array): string {
  if (data.length < 4) return "?";
  const mixed = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  return String(Math.imul(mixed, 0x0e8b2f51) >>> 0);
}

function describeModel(item: ModelItem | undefined, origin: number): string {
  if (item === undefined) return "no item";
  return `item #${item.serial} (${item.size} bytes, added t+${item.addTime - origin}, expiry ${item.expiry === 0 ? "never" : `t+${item.expiry - origin}`})`;
}

function describeItem(item: Item | undefined, origin: number): string {
  if (item === undefined) return "no item";
  return `item #${serialGuess(item.data)} (${item.data.length} bytes, added t+${item.addTime - origin}, expiry ${item.expiry === 0 ? "never" : `t+${item.expiry - origin}`}, id ${item.id})`;
}

function restartView(state: ModelState): ModelItem[] {
  return [...state.open, ...state.queue];
}

function sizeOf(items: readonly ModelItem[]): number {
  return items.reduce((sum, item) => sum + item.size, 0);
}

function copyOf(state: ModelState): ModelState {
  return { queue: [...state.queue], open: [...state.open], bytes: state.bytes };
}

function applyEvent(state: ModelState, event: ModelEvent): void {
  if (event.kind === "add") {
    state.queue.push(event.item);
    state.bytes += event.item.size;
  } else if (event.kind === "flush") {
    state.queue = [];
    state.bytes = 0;
  } else if (event.kind === "abort") {
    const item = takeBySerial(state.open, event.serial)!;
    state.queue.unshift(item);
    state.bytes += item.size;
  } else {
    const fromQueue = takeBySerial(state.queue, event.serial);
    if (fromQueue !== undefined) state.bytes -= fromQueue.size;
    if (event.kind === "open") state.open.push(fromQueue!);
    else if (fromQueue === undefined) takeBySerial(state.open, event.serial);
  }
}

function takeBySerial(items: ModelItem[], serial: number): ModelItem | undefined {
  const index = items.findIndex((item) => item.serial === serial);
  return index < 0 ? undefined : items.splice(index, 1)[0];
}
