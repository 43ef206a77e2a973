/**
 * One named FIFO queue: its items (ItemStore: memory head, journal tail), its journal, its
 * limits, expiry and waiters.
 *
 * Invariants: every change to the queue is appended to the journal (when there is one) in the
 * same call, so replaying the journal rebuilds exactly this queue; an open item is in
 * `openItems` and not in the store until it is confirmed (gone), or aborted or timed out (back at
 * the head, see open_items.ts); the open items, the waiters and the items moving to
 * move_expired_to are held by parts made on their first use (an idle queue of a server with
 * thousands never has them); an expired item is never handed out; every operation is O(1)
 * (amortised) except the explicit whole-queue ones (flush, flush_expired) and `maintainJournal`,
 * which runs about once a second. A reload turns the journal on or off over turns
 * (journal_switch.ts): while it turns on, an item leaving memory but staying live (opened, moved
 * by expiry) is first `cover`ed by the fill (journal_fill.ts), and upkeep only retries writes;
 * until the journal has every item again after a fill that failed or was given up (`journalGap`),
 * upkeep rebuilds it (not while the journal is being turned off).
 */
import type { QueueConfig } from "../config/schema.ts";
import { errorText } from "../errors.ts";
import type { Position } from "../journal/add_reader.ts";
import { monotonicMs } from "../clock.ts";
import { Commit, DURABLE, onceDurable } from "../journal/commit.ts";
import { flushJournals } from "../journal/flush_scheduler.ts";
import { ITEM_MEMORY_OVERHEAD, hasExpired, isExpired, memoryCost, type Item } from "../journal/item.ts";
import type { Journal, PackEnd } from "../journal/journal.ts";
import type { PackEntry } from "../journal/pack.ts";
import type { DiskRegion } from "../journal/replay_state.ts";
import { log } from "../log.ts";
import { fanoutParent } from "../queue_name.ts";
import type { BlockPlace } from "./item_blocks.ts";
import { ItemStore } from "./item_store.ts";
import type { DeadlineTimer } from "./deadline_timer.ts";
import { JournalFill } from "./journal_fill.ts";
import { FILL_SLICE_BYTES, TurningOff, TurningOn, type JournalSwitch } from "./journal_switch.ts";
import { JournalUpkeep, type UpkeepView } from "./journal_upkeep.ts";
import { OpenItems } from "./open_items.ts";
import { WaiterList, type WaitMode } from "./waiters.ts";

/**
 * Expired items one request removes from the head on its way (a few ms of work). A longer run of
 * them is left to the periodic sweep, a slice per turn: until it is through, the queue answers as
 * if empty (an expired item is never handed out).
 */
export const REQUEST_DISCARD_LIMIT = 2000;

/** Why an item was not added ("unavailable": the journal can't be written now). */
export type Refusal = "full" | "too large" | "read-only" | "unavailable";

/** The commit covering the new item's record, or why it was refused. */
export type AddResult = Commit | Refusal;

/**
 * What became of an expired item: moved (the commit of its add to the move_expired_to queue),
 * dropped (null), or "blocked": the move target can't write now, so the item stays where it is.
 */
export type Expiry = Commit | null | "blocked";

export interface QueueHooks {
  /** An expired item is leaving `queue` (move_expired_to is applied here). */
  expired(queue: PersistentQueue, item: Item): Expiry;
}

export interface QueueStats {
  readonly items: number;
  readonly bytes: number;
  readonly totalItems: number;
  readonly logsize: number;
  readonly expiredItems: number;
  readonly memItems: number;
  readonly memBytes: number;
  readonly age: number;
  readonly discarded: number;
  readonly waiters: number;
  readonly openTransactions: number;
  readonly openTransactionsTimedOut: number;
  /** Opens tried while the queue held items (Kestrel 2's `transactions`). */
  readonly transactions: number;
  /** Open items that went back to the head: aborted, timed out, or their connection closed. */
  readonly canceledTransactions: number;
  readonly totalFlushes: number;
  readonly journalRewrites: number;
  readonly journalRotations: number;
}

/**
 * What replay found: the items in memory, the rest left in the journal, the next item id. The
 * queue takes `items`: the array is empty once the queue is made (see ItemStore's constructor).
 */
export interface QueueContents {
  readonly items: Item[];
  readonly disk: DiskRegion | null;
  readonly nextId: number;
}

/** Rewrites and rotations of no journal (a queue that never switched journals). */
const NO_JOURNAL_COUNTS = { rewrites: 0, rotations: 0 } as const;

/** Blocks of items in memory a part of a flush_expired looks at, at most. */
const PART_BLOCKS = 8;
/** Items a part of a flush_expired removes before it stops (after the block it is in). */
const PART_REMOVALS = 1000;

/** A flush_expired under way on one queue (PersistentQueue.flushExpiredPart). */
export interface ExpiredFlush {
  /** Items expired by then go. */
  readonly now: number;
  /** Items removed so far. */
  removed: number;
  /** Where the pass over the items in memory goes on (null: at the head). */
  place: BlockPlace | null;
  /** The pass over memory is through: the items waiting on disk are next. */
  memoryDone: boolean;
}

export function expiredFlush(now: number): ExpiredFlush {
  return { now, removed: 0, place: null, memoryDone: false };
}

export class PersistentQueue implements UpkeepView {
  private readonly store: ItemStore;
  /** Made by the first `open`. */
  private openItems: OpenItems | null = null;
  /** Expired items handed to their move target whose record there is not on disk yet (see `expire`); made by the first. */
  private moving: Map<number, Item> | null = null;
  /** What the moving items count toward the memory budget (`memoryCost`: an empty one counts too). */
  private movingCost = 0;
  /** Made by the first `wait`. */
  private waiters: WaiterList | null = null;
  private nextId: number;
  private totalItems = 0;
  private expiredItems = 0;
  private discarded = 0;
  private openTimedOut = 0;
  private transactions = 0;
  private canceledTransactions = 0;
  private flushes = 0;
  /** Rewrites and rotations of journals this queue used before its current one (a reload switched it). */
  private retiredJournalCounts: { readonly rewrites: number; readonly rotations: number } = NO_JOURNAL_COUNTS;
  /** The add time (wall clock) of the last item taken from the head, or null if none was since start. */
  private lastTakenAddTime: number | null = null;
  /** When this server created (or loaded) the queue, on the monotonic clock (for max_queue_age). */
  private readonly createdAt: number;
  /** A fanout child (`a+b`): fanout_only, inherited from the parent, does not apply to it. */
  private readonly isFanoutChild: boolean;
  private deleted = false;
  private readonly upkeep = new JournalUpkeep();
  /** A reload turning the journal on or off, under way (journal_switch.ts). */
  private switching: JournalSwitch | null = null;
  /** Why the journal lacks items the queue holds (a fill that failed), or null: upkeep rebuilds it. */
  private gap: string | null = null;
  /**
   * Settles once nothing of the journal this queue dropped (a reload turned it off) can come back,
   * a power loss included (Journal.retire: its files replay whole until the empty pack is on disk,
   * over the next turns). Until then, with no journal, a take, a flush or a delete is answered only
   * then (`commit`, `flush`, `destroy`): a power loss before would bring back what it took.
   */
  private retiring: Commit = DURABLE;

  constructor(
    readonly name: string,
    private config: QueueConfig,
    private journal: Journal | null,
    contents: QueueContents,
    private readonly hooks: QueueHooks,
    /** Times open items out (a test passes one on its own clock). */
    private readonly openTimer?: DeadlineTimer,
    /** When the queue was created, on the monotonic clock (a test passes its own). */
    createdAt = monotonicMs(),
  ) {
    this.createdAt = createdAt;
    this.isFanoutChild = fanoutParent(name) !== null;
    this.store = new ItemStore(journal, config.maxMemorySize, contents.items, contents.disk, name);
    this.nextId = contents.nextId;
    journal?.setLiveFloor(this);
  }

  get settings(): QueueConfig {
    return this.config;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Whether the queue keeps a journal now (a reload turns it on or off). */
  get hasJournal(): boolean {
    return this.journal !== null;
  }

  /** Whether the queue keeps a journal once the switch under way, if any, is through (what a reload compares its config with). */
  get journalWanted(): boolean {
    return this.switching === null ? this.journal !== null : this.switching.direction === "on";
  }

  /** Its journal is being rebuilt over turns (Journal.rebuildInTurns): new items stay in memory meanwhile (see setRefusal), none is read back. */
  get journalRebuilding(): boolean {
    return this.journal?.rebuilding ?? false;
  }

  /** Why this queue's journal can't be written right now, or null. */
  get journalFailure(): string | null {
    return this.journal?.failure ?? null;
  }

  /**
   * Why a set of `size` bytes can't be taken now, or null: the journal is failing, or it is being
   * rebuilt over turns (its records wait in memory for the new active file, so the item could not
   * go to disk) and the item would take the queue's memory past max_memory_size. That way a slow
   * or faulted disk holding a rebuild up never lets sets grow the queue's memory past its budget.
   */
  setRefusal(size: number): string | null {
    return this.journalFailure ?? this.rebuildRefusal(size);
  }

  /**
   * Why a set of `size` bytes can't be kept while the journal is being rebuilt over turns, or
   * null: items wait on disk (a new one would go behind them, where the rebuild has no place for
   * it until its copy of them is in place), or it would take memory past the budget. Null for an
   * item refused or kept nowhere anyway.
   */
  private rebuildRefusal(size: number): string | null {
    if (this.journal?.rebuilding !== true || size > this.config.maxItemSize) return null;
    if (this.config.fanoutOnly && !this.isFanoutChild) return null;
    const rebuilding = `queue '${this.name}': its journal is being rebuilt`;
    if (this.store.readFrom !== null) return `${rebuilding}, copying the items waiting on disk; try again in a moment`;
    if (!this.fitsInMemory(size + ITEM_MEMORY_OVERHEAD)) return `${rebuilding} and its items in memory fill max_memory_size (${this.config.maxMemorySize} bytes); try again in a moment`;
    return null;
  }

  /**
   * Whether an item of `size` bytes fed to this fanout child now (fanout_feed.ts) would be refused
   * only until its journal rebuild's copy of the items waiting on disk is in place: the new item's
   * place is behind them. The feed waits for it rather than leave the child without the item.
   */
  heldUpByRebuild(size: number): boolean {
    return this.store.readFrom !== null && this.rebuildRefusal(size) !== null;
  }

  /** Puts a journal rebuild under way in place now (a clean stop can't wait for its turns; see Journal.finishRebuild). Never throws. */
  finishRebuild(): void {
    if (this.journal !== null) this.upkeep.finishRebuild(this.journal, this);
  }

  /** Why items waiting in the journal can't be read back right now (takes are refused), or null. */
  get readFailure(): string | null {
    return this.store.readFailure;
  }

  /**
   * Settles once every change made to this queue so far is in its journal (per its sync policy);
   * with no journal, once the one it dropped can't come back (`retiring`).
   */
  get commit(): Commit {
    return this.journal?.lastCommit ?? this.retiring;
  }

  reconfigure(config: QueueConfig): void {
    this.config = config;
    this.store.setBudget(config.maxMemorySize);
    this.openItems?.setTimeout(config.openTransactionTimeout);
    this.journal?.configure({ policy: config.syncJournal, segmentSize: config.maxJournalSize });
  }

  /**
   * Appends an item; `flags` are the client's, kept with it and returned as they came. Refused
   * while the journal can't be written, unless `whileFailing` (a set accepted before it failed,
   * fed to a wide fanout's children over turns: its record then waits for the retry).
   */
  add(data: Uint8Array, expiry: number, now: number, flags = 0, whileFailing = false): AddResult {
    if (this.deleted) return "read-only";
    if (this.journalFailure !== null && !whileFailing) return "unavailable";
    if (data.length > this.config.maxItemSize) return "too large";
    // fanout_only: the item goes only to the fanout children (QueueCollection.add), as in Kestrel 2.
    if (this.config.fanoutOnly && !this.isFanoutChild) return DURABLE;
    // Kept in memory until the rebuild is in place, within the budget, behind no item on disk (see
    // rebuildRefusal); a fanout child fed over turns (whileFailing) goes without it behind items on disk.
    if ((!whileFailing || this.store.readFrom !== null) && this.rebuildRefusal(data.length) !== null) return "unavailable";
    this.discardExpired(now, REQUEST_DISCARD_LIMIT);
    if (!this.makeRoomFor(data.length)) return "full";
    const item: Item = { id: this.nextId++, addTime: now, expiry: this.cappedExpiry(expiry, now), flags, data };
    this.store.push(item);
    const commit = this.journal === null ? DURABLE : this.journal.appendAdd(item);
    this.totalItems++;
    this.serveWaiters(now);
    return commit;
  }

  /** Takes the head for good (nothing while the journal can't record it). */
  remove(now: number): Item | undefined {
    if (this.journalFailure !== null) return undefined;
    const item = this.takeHead(now);
    if (item !== undefined) this.journal?.appendRemove(item.id);
    return item;
  }

  /**
   * Takes the head tentatively (reliable read): it comes back on `abort` or a restart, or once it
   * has been open_transaction_timeout since its reply reached the client (`delivered`).
   */
  open(now: number): Item | undefined {
    if (this.journalFailure !== null) return undefined;
    if (this.store.count > 0) this.transactions++;
    const item = this.takeHead(now);
    if (item === undefined) return undefined;
    this.coverIfFilling(item);
    this.journal?.appendOpen(item.id);
    this.openItems ??= new OpenItems(this.name, this.config.openTransactionTimeout, this, this.openTimer);
    this.openItems.add(item);
    return item;
  }

  /**
   * Whether `item`, as `open` handed it out, is still open: false once it was confirmed, aborted
   * or timed out (then its holder holds nothing).
   */
  isOpen(item: Item): boolean {
    return this.openItems?.holds(item) === true;
  }

  /**
   * The reply carrying open item `item` was handed to the socket: its open_transaction_timeout
   * counts from now (never before: an item still on its way to its client must not go back and
   * be opened by another). Does nothing if it is not open (see `isOpen`).
   */
  delivered(item: Item): void {
    this.openItems?.start(item);
  }

  /** Confirms an open item: it is gone for good. Does nothing if it is not open (see `isOpen`). */
  confirm(item: Item): void {
    if (this.openItems?.take(item) === true) this.recordConfirmed(item);
  }

  /**
   * Takes open items out of the open set for a confirm decided now and recorded over turns
   * (`recordConfirmed`, commands/confirm.ts): from now on none of them can time out, be aborted or
   * be confirmed again. Returns those that were open.
   */
  takeToConfirm(items: readonly Item[]): Item[] {
    return items.filter((item) => this.openItems?.take(item) === true);
  }

  /** Records that an item taken for a confirm (`takeToConfirm`) is gone for good. */
  recordConfirmed(item: Item): void {
    this.journal?.appendRemove(item.id);
  }

  /** Returns an open item to the head of the queue. Does nothing if it is not open (see `isOpen`). */
  abort(item: Item, now: number): void {
    if (this.openItems?.take(item) === true) this.returnOpen([item], now);
  }

  /**
   * Returns open items to the head of the queue as if each were aborted in turn, the first of
   * `items` first (Kestrel 2's cancelAll: unremove, and wake a waiter, per item), so a waiter gets
   * the first and the last ends up at the head; those not open are skipped (see `isOpen`).
   */
  abortAll(items: readonly Item[], now: number): void {
    for (const item of items) if (this.openItems?.take(item) === true) this.returnOpen([item], now);
  }

  /** An open item was neither confirmed nor aborted within open_transaction_timeout (OpenItems tells). */
  timedOut(item: Item): void {
    this.openTimedOut++;
    this.returnOpen([item], Date.now());
  }

  /**
   * Puts items that have left the open set back at the head, the first of them first, as ABORT
   * records say on replay; then serves the waiters.
   */
  private returnOpen(items: readonly Item[], now: number): void {
    if (items.length === 0) return;
    for (const item of items.toReversed()) {
      this.canceledTransactions++;
      this.journal?.appendAbort(item.id);
      this.store.unshift(item);
    }
    this.serveWaiters(now);
  }

  /**
   * Puts back at the head an item taken for good whose reply never reached the client (its
   * connection ended first), under a new id, with a PUT_BACK record so replay puts it at the head
   * too. Give back the last taken first.
   */
  giveBack(item: Item, now: number): void {
    if (this.deleted) return;
    const back: Item = { ...item, id: this.nextId++ };
    this.store.unshift(back);
    this.journal?.appendPutBack(back);
    this.serveWaiters(now);
  }

  /** Item bytes a take (or peek) of the head would move, or Infinity if it reads from the journal (ItemStore.takeCost; expiry aside). */
  takeCost(): number {
    return this.store.takeCost();
  }

  peek(now: number): Item | undefined {
    this.discardExpired(now, REQUEST_DISCARD_LIMIT);
    return this.expiredAtHead(now) ? undefined : this.store.peek();
  }

  /** An expired item waits at the head for its move target: nothing can be handed out before it. */
  private expiredAtHead(now: number): boolean {
    const expiry = this.store.headExpiry();
    return expiry !== undefined && hasExpired(expiry, now);
  }

  /** Waits up to `timeoutMs` for an item; `deliver` gets it (already removed/opened) or null. */
  wait(mode: WaitMode, timeoutMs: number, deliver: (item: Item | null) => void): () => void {
    const waiters = (this.waiters ??= new WaiterList(this.takeFor));
    const waiter = waiters.add(mode, timeoutMs, deliver);
    return () => waiters.cancel(waiter);
  }

  /**
   * Removes expired items from the head, at most `limit`; returns how many. Stops at one its
   * move target can't take now: it waits at the head (never handed out) until the target can.
   */
  discardExpired(now: number, limit = Infinity): number {
    let count = 0;
    while (count < limit && this.expiredAtHead(now)) {
      const head = this.store.peek()!;
      const fate = this.hooks.expired(this, head);
      if (fate === "blocked") break;
      this.store.shift();
      if (fate !== null) this.coverIfFilling(head);
      this.expire(head, fate);
      count++;
    }
    return count;
  }

  /**
   * Does a part of a flush_expired (`flush`, from `expiredFlush`); true once it is through. First
   * the expired items held in memory, wherever they are in the queue, a few blocks a part; then
   * the items waiting on disk are read back a slice a part while the memory budget has room,
   * dropping the expired ones as they come (they never take memory). Expired items further back
   * on disk go as read-behind reaches them: memory stays within the budget, and every removal is
   * recorded in read-back order, so replay reads back no more than the server did. Removes at
   * most max_expire_sweep in all, as Kestrel 2 does. A part looks at PART_BLOCKS blocks or
   * removes PART_REMOVALS items, about, so the caller can spread a million over event-loop turns.
   */
  flushExpiredPart(flush: ExpiredFlush): boolean {
    if (this.deleted) return true;
    const limit = this.config.maxExpireSweep;
    const removedBefore = flush.removed;
    const drop = (item: Item): boolean => {
      if (flush.removed >= limit) return false;
      const fate = this.hooks.expired(this, item);
      if (fate === "blocked") return false;
      if (fate !== null) this.coverIfFilling(item);
      this.expire(item, fate);
      flush.removed++;
      return true;
    };
    if (!flush.memoryDone) {
      let blocks = 0;
      const enough = () => ++blocks >= PART_BLOCKS || flush.removed - removedBefore >= PART_REMOVALS;
      flush.place = this.store.removeExpiredInMemory(flush.place, flush.now, drop, enough);
      flush.memoryDone = flush.place === null;
      return false;
    }
    // Items on their way to move_expired_to are held until their new record is written (synced,
    // under sync_journal = always): they count, and writing the journals now lets them go.
    const room = () => {
      if (this.movingCost > 0 && !this.hasRoom()) flushJournals();
      return this.hasRoom();
    };
    return !this.store.readBackSome(room, (item) => isExpired(item, flush.now) && drop(item));
  }

  /** Whether what this queue holds in memory is below its budget. */
  private hasRoom(): boolean {
    return this.store.memoryUsed + this.movingCost < this.config.maxMemorySize;
  }

  /** Whether `cost` more in memory stays within the budget (the rule read-behind applies, ItemStore.push). */
  private fitsInMemory(cost: number): boolean {
    return this.store.memoryUsed + this.movingCost + cost <= this.config.maxMemorySize;
  }

  /**
   * An expired item left the queue, dropped (`moved` null) or moved. A moved one stays live in
   * this queue's journal until its record in the target's is on disk: a crash before then moves
   * it again rather than losing it.
   */
  private expire(item: Item, moved: Commit | null): void {
    this.expiredItems++;
    if (moved === null) return void this.journal?.appendRemove(item.id);
    const moving = (this.moving ??= new Map());
    moving.set(item.id, item);
    this.movingCost += memoryCost(item);
    onceDurable(moved, () => {
      moving.delete(item.id);
      this.movingCost -= memoryCost(item);
      if (!this.deleted) this.journal?.appendRemove(item.id);
    });
  }

  /**
   * Drops every queued item, in memory and in the journal (open items stay open). The queue is
   * empty at once; the items' memory is given back over the next turns (slot_release.ts), and the
   * journal's new state (a pack of the open items replacing every older segment) is written and
   * committed off the event loop (Journal.reset): returns the commit that settles then, so the
   * reply waits for it. If the journal can't even begin (its active segment can't be sealed),
   * nothing is dropped and the commit is failed already, saying why. If the new state can't be
   * written after that, the commit fails, saying the queue was flushed but not its journal, which
   * is rebuilt from the queue at the next upkeep (until then a restart would bring the items
   * back). A journal being turned on is through once the new state is committed: it holds the
   * whole live state.
   */
  flush(): Commit {
    // The reset gives a fill under way up: it ends with the reset.
    const filling = this.switching?.direction === "on" ? this.switching : null;
    if (filling !== null) this.switching = null;
    // No journal: the one it dropped must not bring the flushed items back (`retiring`).
    let commit: Commit = this.retiring;
    try {
      if (this.journal !== null) commit = this.journal.reset(this.openEntries());
    } catch (error) {
      // The fill was given up before the reset failed: the journal lacks the items from before it.
      if (filling !== null) this.fillEnded(filling, { failed: errorText(error), started: true });
      log.error(`queue '${this.name}': flush refused, the journal could not be reset: ${errorText(error)}`);
      const refused = new Commit();
      refused.settle("failed", `could not flush queue '${this.name}': ${errorText(error)}`);
      return refused;
    }
    const flushed = new Commit();
    commit.onSettled(() => {
      this.resetEnded(commit, filling);
      // Said of this queue: a flush_all's reply names each one whose journal failed.
      if (commit.state === "durable") flushed.settle("durable");
      else flushed.settle("failed", `queue '${this.name}' flushed, but ${commit.error} (the journal is rebuilt from the queue at the next upkeep)`);
    });
    const count = this.store.count;
    this.store.clear();
    this.flushes++;
    log.info(`queue '${this.name}': flushed ${count} item(s)`);
    return flushed;
  }

  /** A flush's new journal state was committed, or could not be: a journal that lacks it is rebuilt from the queue at the next upkeep. */
  private resetEnded(commit: Commit, filling: TurningOn | null): void {
    if (filling !== null) return this.fillEnded(filling, commit.state === "durable" ? "installed" : { failed: commit.error, started: true });
    if (commit.state === "durable" || this.deleted) return;
    this.gap = `the new journal of its flush could not be written (${commit.error})`;
    this.reportGap(commit);
  }

  /**
   * Looks after the journal; called about once a second, routinely (see JournalUpkeep). While a
   * journal is being turned on it only retries a write or read-back that failed: the rest
   * (compacting, resetting a drained journal, rebuilding) would give the fill up.
   */
  maintainJournal(thorough = true): void {
    if (this.journal === null || this.deleted) return;
    if (this.switching?.direction !== "on") return this.upkeep.run(this.journal, this, thorough);
    this.journal.retry();
    this.store.retryReadBack();
  }

  /**
   * Turns the journal on (a reload; see journal_switch.ts): from now on every change is written to
   * `journal`, a new, empty one, and the items the queue holds are written to it over turns.
   * Returns the commit that settles once they are all in it. Never throws: a fill that can't be
   * written leaves the journal to be rebuilt at the next upkeep (and the commit failed). For a
   * queue without a journal (one still turning it off keeps it instead: `keepJournal`).
   */
  turnJournalOn(journal: Journal): Commit {
    const live = this.live();
    journal.setLiveFloor(this);
    const queued = [...(this.moving?.values() ?? []), ...this.store.frontItems()];
    const fill = new JournalFill(this.openItems?.items() ?? [], queued, this.nextId, (after, below, bytes) => this.store.runItems(after, below, bytes));
    this.store.setJournal(journal);
    this.journal = journal;
    // Nothing to write: the new journal replays to the queue as it is.
    if (live.items === 0 && live.open === 0) return DURABLE;
    const switching = new TurningOn(fill);
    this.switching = switching;
    log.info(`queue '${this.name}': turning the journal on: writing ${live.items + live.open} item(s) to it over turns`);
    journal.fill(fill, (end) => this.endFill(switching, end), FILL_SLICE_BYTES);
    return switching.done;
  }

  /**
   * Turns the journal off (a reload; see journal_switch.ts): the items waiting on disk are read
   * into memory over turns, the queue keeping its journal (sets written, takes recorded) until
   * they all are; then it drops it and deletes its files. Returns the commit that settles then.
   * A journal still being turned on is given up first (what it lacks is in memory). Never throws.
   */
  turnJournalOff(): Commit {
    if (this.switching?.direction === "on") this.giveUpFill(this.switching);
    const switching = new TurningOff(this);
    this.switching = switching;
    switching.start();
    if (this.switching === switching) log.info(`queue '${this.name}': turning the journal off: reading ${this.store.count - this.store.memoryCount} item(s) into memory over turns`);
    return switching.done;
  }

  /**
   * A reload wants the journal kept: a switch off under way is given up. Returns the commit the
   * reload's reply waits for: durable, the journal having every item, unless the journal lacks
   * some (a fill the switch off gave up: the journal was turned on, off and on again): then it
   * is failed, saying so, and the next upkeep rebuilds the journal from the queue.
   */
  keepJournal(): Commit {
    if (this.switching?.direction === "off") this.switching.cancel();
    this.switching = null;
    return this.gap === null ? DURABLE : this.reportGap(new Commit());
  }

  /** Reads up to `maxBytes` of the items waiting on disk into memory (a switch off's part); true while some still wait there. */
  readInPart(maxBytes: number): boolean {
    return this.store.readInPart(maxBytes);
  }

  /**
   * Every item is in memory (a switch off is through): the queue drops its journal, which is
   * marked empty at once and its files deleted over turns (Journal.retire). Never throws.
   */
  dropJournal(): void {
    const old = this.journal;
    this.switching = null;
    if (old === null) return;
    this.retireJournal();
    this.store.setJournal(null);
    this.journal = null;
    this.gap = null;
    try {
      this.retiring = old.retire();
    } catch (error) {
      log.error(`queue '${this.name}': could not delete the journal it turned off, delete its files before the next start or their items come back: ${errorText(error)}`);
    }
    log.info(`queue '${this.name}': journal off: every item is in memory, its files deleted`);
  }

  /** The journal ended a fill: the switch is through, failed, or was given up under it. */
  private endFill(switching: TurningOn, end: PackEnd): void {
    if (this.switching !== switching) return; // given up by the queue, which saw to the journal
    this.switching = null;
    this.fillEnded(switching, end);
  }

  /** A fill is over: `done` settles, and a fill that did not get every item in leaves a gap for upkeep to rebuild. */
  private fillEnded(switching: TurningOn, end: PackEnd): void {
    if (end === "installed") {
      log.info(`queue '${this.name}': journal on: ${switching.fill.written} item(s) written in ${(performance.now() - switching.started).toFixed(0)} ms`);
      return switching.done.settle("durable");
    }
    const reason = end === "cancelled" ? "the writing was given up" : end.failed;
    this.gap = `writing its items to the journal it turned on failed (${reason})`;
    this.reportGap(switching.done);
  }

  /** Logs why the journal lacks items (`gap`) and settles `commit` failed with it; returns it. */
  private reportGap(commit: Commit): Commit {
    log.error(`queue '${this.name}': ${this.gap}; the journal is rebuilt from the queue at the next upkeep`);
    commit.settle("failed", `queue '${this.name}': ${this.gap}`);
    return commit;
  }

  /**
   * A fill given up by the queue (the journal is being turned off again): the queue holds every
   * item, and the journal lacks those the fill had not written, should a reload keep it after all.
   */
  private giveUpFill(switching: TurningOn): void {
    this.switching = null;
    switching.done.settle("durable");
    this.journal?.cancelPack();
    this.gap = "writing its items to the journal it turned on was given up (a reload turned the journal off before the end)";
  }

  /** The current journal is being replaced: its rewrites and rotations are kept in the stats. */
  private retireJournal(): void {
    if (this.journal !== null) this.retiredJournalCounts = this.journalCounts();
  }

  /** `item` is leaving memory but stays live (opened, moved by expiry): a journal being filled writes it first if it has not yet. */
  private coverIfFilling(item: Item): void {
    if (this.switching?.direction === "on") this.switching.fill.cover(item);
  }

  /**
   * The queue is going away: waiters get nothing (a slice of them a turn, WaiterList.releaseAll;
   * no item can reach them, and a queue made again under the name has waiters of its own), the
   * journal files are deleted. The journal is marked empty at once and its files deleted over the
   * next turns (Journal.retire: a crash meanwhile brings none of its items back, and the queue's
   * name is free for a new journal at once); its items' memory too (ItemStore.clear). Returns why
   * some files could not be deleted (they are left for the caller to remove), or null; and the
   * commit that settles once nothing of the queue can come back, a power loss included
   * (Journal.retire).
   */
  destroy(): { readonly error: string | null; readonly gone: Commit } {
    this.deleted = true;
    const switching = this.switching;
    this.switching = null;
    if (switching?.direction === "off") switching.cancel();
    else switching?.done.settle("durable");
    this.store.clear();
    this.openItems?.clear();
    this.waiters?.releaseAll();
    const journal = this.journal;
    this.journal = null;
    try {
      return { error: null, gone: journal?.retire() ?? this.retiring };
    } catch (error) {
      return { error: errorText(error), gone: this.retiring };
    }
  }

  /**
   * Ends every blocking get waiting on this queue with nothing, a slice of them a turn (the server
   * is stopping, or became quiescent; WaiterList.releaseAll).
   */
  releaseWaiters(): void {
    this.waiters?.releaseAll();
  }

  /** Its journal was written since its last fsync: a clean stop must sync it. */
  get owesSync(): boolean {
    return this.journal?.unsynced ?? false;
  }

  /**
   * Stops the queue for a server shutdown: waiters get nothing, at once (those a release over
   * turns had not reached too); the journal, rebuilt first if its files were deleted or cut under
   * the server, is synced and closed. `fileSystemSynced`: the whole file system was synced since
   * the journal was last written, so only what the repair writes needs an fsync. The queue is not
   * used after.
   */
  close(fileSystemSynced = false): void {
    this.openItems?.stop();
    this.waiters?.releaseNow();
    // A journal being turned on gets the rest of its items now; one being turned off stays as it
    // is (whole, but for what a fill given up had not written: no rebuild of a journal not wanted).
    if (this.switching?.direction === "on") this.journal?.finishPack();
    if (this.switching?.direction === "off") {
      this.switching.cancel();
      this.gap = null;
    }
    this.switching = null;
    if (fileSystemSynced) this.journal?.noteSynced();
    if (this.journal !== null && !this.deleted) this.upkeep.repair(this.journal, this);
    this.journal?.close();
    // Its items are on disk now: their memory goes, and with it the queue's place in the lists
    // slab evacuation goes through (process-wide: they would keep a closed queue alive).
    this.store.clear();
    this.openItems?.clear();
  }

  /**
   * Whether max_queue_age has passed since the queue was created (or loaded) and it holds nothing:
   * no item queued, open or moving, and nobody waiting (Kestrel 2 looks only at the items).
   */
  readyToExpire(nowMonotonic: number): boolean {
    const maxQueueAge = this.config.maxQueueAge;
    if (maxQueueAge <= 0 || this.deleted || nowMonotonic - this.createdAt <= maxQueueAge) return false;
    const live = this.live();
    return live.items === 0 && live.open === 0 && (this.waiters?.size ?? 0) === 0;
  }

  /**
   * `now` (wall clock) is for `age`: as in Kestrel 2, how long ago the last item taken from the
   * head was added (so it grows while nothing is taken), 0 for an empty queue. Before anything is
   * taken it counts from the oldest item's add time (Kestrel would count from 1970).
   */
  stats(now = Date.now()): QueueStats {
    const journal = this.journalCounts();
    return {
      items: this.store.count,
      bytes: this.store.bytes,
      totalItems: this.totalItems,
      logsize: this.journal?.size ?? 0,
      expiredItems: this.expiredItems,
      memItems: this.store.memoryCount,
      memBytes: this.store.memoryBytes,
      age: this.age(now),
      discarded: this.discarded,
      waiters: this.waiters?.size ?? 0,
      openTransactions: this.openItems?.size ?? 0,
      openTransactionsTimedOut: this.openTimedOut,
      transactions: this.transactions,
      canceledTransactions: this.canceledTransactions,
      totalFlushes: this.flushes,
      journalRewrites: journal.rewrites,
      journalRotations: journal.rotations,
    };
  }

  private age(now: number): number {
    if (this.store.count === 0) return 0;
    const since = this.lastTakenAddTime ?? this.store.headAddTimeInMemory() ?? now;
    // Add times are wall-clock times kept in the journal: a clock set back since makes it 0, never negative.
    return Math.max(0, now - since);
  }

  /** Rewrites and rotations of this queue's journals, since the queue was created or loaded. */
  private journalCounts(): { readonly rewrites: number; readonly rotations: number } {
    const retired = this.retiredJournalCounts;
    return { rewrites: retired.rewrites + (this.journal?.rewrites ?? 0), rotations: retired.rotations + (this.journal?.rotations ?? 0) };
  }

  // What the journal upkeep sees of the queue (UpkeepView): the queue is its own view, so an idle
  // queue carries no object and closures for it.

  live(): { readonly items: number; readonly open: number; readonly bytes: number } {
    return { items: this.store.count + (this.moving?.size ?? 0), open: this.openItems?.size ?? 0, bytes: this.store.bytes + (this.openItems?.bytes ?? 0) };
  }

  readFrom(): Position | null {
    return this.store.readFrom;
  }

  diskRegion(): DiskRegion | null {
    return this.store.diskRegion;
  }

  relocateDisk(region: DiskRegion | null): void {
    this.store.relocateDisk(region);
    this.gap = null; // rebuilt from the queue: the journal has every item
    // Nothing was read back while it ran: a waiter that found memory empty may be served now.
    if (region !== null) this.serveWaiters(Date.now());
  }

  /** Why the journal lacks items (UpkeepView); none while it is being turned off, rather than rebuilt for nothing. */
  journalGap(): string | null {
    return this.switching?.direction === "off" ? null : this.gap;
  }

  retryReadBack(): void {
    this.store.retryReadBack();
    if (this.switching?.direction === "off") this.switching.resume();
  }

  private openEntries(): PackEntry[] {
    return (this.openItems?.items() ?? []).map((item) => ({ item, open: true }));
  }

  /** Open items, expired items still moving, then the items in memory: a journal's worth of live state (every item in memory). */
  liveEntries(): PackEntry[] {
    const queued = [...(this.moving?.values() ?? []), ...this.store.memoryItems()];
    return [...this.openEntries(), ...queued.map((item) => ({ item, open: false }))];
  }

  /** Every item with a smaller id has left the queue for good (the journal asks). O(items in memory). */
  liveFloor(): number {
    return Math.min(this.minLiveId(), this.store.diskMinId, this.nextId);
  }

  /** The smallest id of a live item in memory (the items in the journal have larger ids). */
  minLiveId(): number {
    let min = this.store.minMemoryId();
    for (const id of this.openItems?.ids() ?? []) if (id < min) min = id;
    for (const id of this.moving?.keys() ?? []) if (id < min) min = id;
    return min;
  }

  /**
   * The periodic sweep's share of this queue for one slice: removes up to `limit` expired items
   * from the head, then serves waiters the items that were behind them. Returns how many.
   */
  sweepExpired(now: number, limit: number): number {
    const count = this.discardExpired(now, limit);
    if (count > 0) this.serveWaiters(now);
    return count;
  }

  private takeHead(now: number): Item | undefined {
    this.discardExpired(now, REQUEST_DISCARD_LIMIT);
    if (this.expiredAtHead(now)) return undefined;
    const item = this.store.shift();
    if (item !== undefined) this.lastTakenAddTime = item.addTime;
    return item;
  }

  /** The expiry an item added now gets: the client's (unless ignore_client_expiry), capped by max_age. */
  private cappedExpiry(requested: number, now: number): number {
    const expiry = this.config.ignoreClientExpiry ? 0 : requested;
    const maxAge = this.config.maxAge;
    if (maxAge <= 0) return expiry;
    return expiry === 0 ? now + maxAge : Math.min(expiry, now + maxAge);
  }

  private isFullFor(size: number): boolean {
    return this.store.count >= this.config.maxItems || this.store.bytes + size > this.config.maxSize;
  }

  /** With discard_old_when_full, drops the oldest items until `size` fits. */
  private makeRoomFor(size: number): boolean {
    if (!this.isFullFor(size)) return true;
    if (!this.config.discardOldWhenFull || size > this.config.maxSize || this.config.maxItems === 0) return false;
    while (this.isFullFor(size)) {
      const head = this.store.shift();
      if (head === undefined) return false;
      this.journal?.appendRemove(head.id);
      this.lastTakenAddTime = head.addTime;
      this.discarded++;
    }
    return true;
  }

  private serveWaiters(now: number): void {
    this.waiters?.wake(now);
  }

  /** What a waiter gets (WaiterList's `take`). */
  private readonly takeFor = (mode: WaitMode, now: number): Item | undefined =>
    mode === "remove" ? this.remove(now) : mode === "open" ? this.open(now) : this.peek(now);
}

/**
 * Deletes the files of a journal queue `name` no longer uses. Never throws: files it could not
 * delete are logged, since the next start would load their items again.
 */
export function eraseJournal(name: string, journal: Journal): void {
  try {
    journal.erase();
  } catch (error) {
    log.error(`queue '${name}': could not delete an unused journal, delete its files before the next start or their items come back: ${errorText(error)}`);
  }
}
