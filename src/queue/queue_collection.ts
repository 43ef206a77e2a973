/**
 * All the queues of one server: loading them from queue_path, creating them on first use, fanout
 * and aliases (set_routing.ts), expiry moves, deletion (and expiry by max_queue_age),
 * reconfiguration, journal upkeep (once a second) and shutdown.
 *
 * A reload reconfigures every queue or none: whatever can fail (opening a journal turned on) is
 * prepared for all of them first, and undone if one fails; the items then move to or from the
 * journals over turns (journal_switch.ts).
 *
 * Invariants: a queue exists here iff it is live (not deleted); `children` lists, for each parent
 * name, exactly the live fanout queues `<parent>+<child>`; a name that is not a valid queue name
 * never reaches the file system; no queue has an alias's name (a set or get to the alias never
 * creates one, and a config whose alias names a live queue is refused); on a case-insensitive
 * file system no two queues have file names that differ only in case; a queue whose journal
 * could not be opened is not served (its files are left untouched) and every request for it gets
 * the reason, until an upkeep finds the cause gone (a full disk freed, a directory moved out of
 * the way) and loads it.
 *
 * The once-a-second upkeep's look after queue_path (the lock, the queues not served) that throws
 * (a bug) is logged once and the queues' own upkeep runs all the same: it is what retries a
 * failing journal (and so mends one a bug failed, flush_scheduler.ts), so no bug beside it may
 * hold it off. A queue's own upkeep is guarded in its round (`journal upkeep failed`).
 */
import { ConfigError, queueConfigFor, type KestrelConfig } from "../config/load.ts";
import type { QueueConfig } from "../config/schema.ts";
import { DURABLE, allOf, type Commit } from "../journal/commit.ts";
import { flushJournals } from "../journal/flush_scheduler.ts";
import type { Item } from "../journal/item.ts";
import { monotonicMs } from "../clock.ts";
import { journalOf, openDataDirectory, removeJournalFiles, scanDataDirectory } from "../journal/data_directory.ts";
import type { DirectoryLock } from "../journal/directory_lock.ts";
import { fileSystem } from "../journal/files.ts";
import type { Journal, JournalEvents } from "../journal/journal.ts";
import { UnsupportedJournalError, bytesReplayed, openJournal, type OpenedJournal } from "../journal/open_journal.ts";
import { finishRetires } from "../journal/retire_task.ts";
import type { QueueFiles } from "../journal/segment_files.ts";
import { errorText } from "../errors.ts";
import { runGuarded } from "../guarded.ts";
import { log } from "../log.ts";
import type { DeadlineTimer } from "./deadline_timer.ts";
import { PersistentQueue, eraseJournal, type AddResult, type Expiry, type QueueHooks } from "./persistent_queue.ts";
import { feedAll } from "./fanout_feed.ts";
import { SetRouting } from "./set_routing.ts";
import { compareNames, fanoutParent, isValidQueueName, queueFileName } from "../queue_name.ts";
import { RepeatedLog } from "../repeated_log.ts";
import { AliasTable, type AliasStats } from "./aliases.ts";
import { TotalsSum, type CollectionTotals } from "./collection_totals.ts";
import { ExpiryRound } from "./expiry_round.ts";
import { faultErrors, faultNotices, reportFaultLines } from "./fault_lines.ts";
import { NameOrder } from "./name_order.ts";
import { SlicedRound } from "./sliced_round.ts";

export class QueueUnavailableError extends Error {}

/**
 * Creates a journal's file now: a fanout child's must exist to be loaded again, and a journal a
 * reload turns on must be writable. On failure erases the journal and throws.
 */
function createOrErase(name: string, journal: Journal): void {
  try {
    journal.createFile();
  } catch (error) {
    eraseJournal(name, journal);
    throw error;
  }
}

/** What an upkeep does for a name that is not served: load its journal, remove its files, or nothing. */
type Retry = "load" | "remove" | null;

const JOURNAL_UPKEEP_MS = 1000;
/** What a bug in the upkeep's look after queue_path is logged as. */
const LOOKING_AFTER = "looking after queue_path";
/** Journals owing an fsync at a clean stop above which the file system is synced once instead. */
const SYNC_EACH_MAX = 16;
/** A load replaying this much, or opening this many queues, is followed by a full collection (`load`). */
const COLLECT_AFTER_BYTES = 1024 * 1024;
const COLLECT_AFTER_QUEUES = 256;

/** The children of a queue that has none. */
const NO_CHILDREN: ReadonlySet<PersistentQueue> = new Set();

export class QueueCollection {
  private readonly queues = new Map<string, PersistentQueue>();
  /** The same queues, by name, for reports. */
  private readonly order = new NameOrder<PersistentQueue>();
  private readonly children = new Map<string, Set<PersistentQueue>>();
  /**
   * Names not served, and why: journals that could not be opened ("load": an upkeep tries again;
   * null: never, a newer format) and deleted queues whose files could not all be removed
   * ("remove": an upkeep removes them, then the name is free again).
   */
  private readonly unavailable = new Map<string, { readonly reason: string; readonly retry: Retry }>();
  /** The lock could not be checked and that was logged; logged again once it works. */
  private lockCheckFailing = false;
  private totalItemsOfDeleted = 0;
  private openTimedOutOfDeleted = 0;
  private queueCreates = 0;
  private queueCreatesRefused = 0;
  private queueDeletes = 0;
  private queueExpires = 0;
  private readonly aliases = new AliasTable();
  private readonly routing = new SetRouting({
    aliases: this.aliases,
    get: (name) => this.queues.get(name),
    getOrCreate: (name) => this.getOrCreate(name),
    children: (name) => this.children.get(name) ?? NO_CHILDREN,
    churn: () => this.churn,
  });
  private readonly hooks: QueueHooks = { expired: (queue, item) => this.moveExpired(queue, item) };
  /** The routine upkeep of every queue, a few ms per turn (see `routineUpkeep`). */
  private readonly upkeepRound = new SlicedRound<PersistentQueue>(
    (queue) => queue.maintainJournal(false),
    (error, queue) => log.error(`queue '${queue.name}': journal upkeep failed: ${errorText(error)}`),
  );
  private readonly upkeep = setInterval(() => this.routineUpkeep(), JOURNAL_UPKEEP_MS);
  private readonly sweepRound = new ExpiryRound((queue) => this.expireIfUnused(queue));
  /** Expired items dropped because their move_expired_to queue refused them: logged once, then counted. */
  private readonly droppedExpired = new RepeatedLog();
  /** New queues refused at max_queues: logged once an interval, then counted. */
  private readonly refusedCreates = new RepeatedLog();
  /** The error a refusal at max_queues throws, made once per limit (see `refuseCreate`). */
  private tooManyQueues: { readonly limit: number; readonly error: QueueUnavailableError } | null = null;

  private constructor(
    private config: KestrelConfig,
    private readonly queuePath: string,
    private readonly lock: DirectoryLock,
    /** File names that differ only in case name one file in queue_path. */
    private readonly caseInsensitive: boolean,
    /** Times the queues' open items out (open_transaction_timeout); undefined: the shared one on the monotonic clock. */
    private readonly openTimer: DeadlineTimer | undefined,
  ) {}

  /**
   * Creates queue_path if needed, takes its lock and loads every journal in it. `openTimer`: the
   * timer the queues' open items time out on (a test passes one on its own clock).
   */
  static load(config: KestrelConfig, openTimer?: DeadlineTimer): QueueCollection {
    const queuePath = config.server.queuePath;
    const started = performance.now();
    const replayedBefore = bytesReplayed();
    const { lock, listing, caseInsensitive } = openDataDirectory(queuePath);
    const collection = new QueueCollection(config, queuePath, lock, caseInsensitive, openTimer);
    for (const [name, reason] of listing.blocked) collection.markUnavailable(name, reason, "load");
    // By name: each queue then goes to the end of the name order, with no search and no move.
    for (const [name, files] of [...listing.queues].sort(([a], [b]) => compareNames(a, b))) collection.tryCreate(name, files);
    try {
      collection.checkAliasNames(config);
    } catch (error) {
      collection.close();
      throw error;
    }
    collection.aliases.configure(config.aliases);
    // Replay leaves a lot of garbage behind (a record object per journal record): collect it
    // now, before serving, so the process starts at its working size. Not after a small load,
    // which leaves little for the collector to find: a full collection costs 10-20 ms even on a
    // small heap, and far more on a big one (a test process that loaded 1,300 directories,
    // nearly all empty, spent 4 of its 16 minutes in them).
    if (bytesReplayed() - replayedBefore >= COLLECT_AFTER_BYTES || collection.queues.size >= COLLECT_AFTER_QUEUES) Bun.gc(true);
    const totals = collection.totals();
    log.info(
      `loaded ${collection.queues.size} queue(s), ${totals.items} item(s) from ${queuePath} in ${(performance.now() - started).toFixed(0)} ms`,
    );
    return collection;
  }

  get(name: string): PersistentQueue | undefined {
    return this.queues.get(name);
  }

  /** The queue called `name`, created if needed. Throws QueueUnavailableError if it can't be. */
  getOrCreate(name: string): PersistentQueue {
    const existing = this.queues.get(name);
    if (existing !== undefined) return existing;
    if (!isValidQueueName(name)) throw new QueueUnavailableError(`invalid queue name`);
    if (this.aliases.has(name)) throw new QueueUnavailableError(`'${name}' is an alias: it takes only sets`);
    const unavailable = this.unavailable.get(name);
    if (unavailable !== undefined) throw new QueueUnavailableError(unavailable.reason);
    if (this.queues.size >= this.config.server.maxQueues) throw this.refuseCreate(name);
    const clash = this.caseClash(name);
    if (clash !== null) throw new QueueUnavailableError(`cannot create queue '${name}': on this case-insensitive file system its journal would be queue '${clash}''s`);
    let found;
    try {
      // Files already there (copied in, or left by a delete) are loaded, never appended to blindly.
      found = journalOf(this.queuePath, name);
    } catch (error) {
      throw new QueueUnavailableError(`cannot create queue '${name}': ${errorText(error)}`);
    }
    if (found.blocked !== null) {
      this.markUnavailable(name, found.blocked, "load");
      throw new QueueUnavailableError(found.blocked);
    }
    try {
      return this.create(name, found.files);
    } catch (error) {
      throw new QueueUnavailableError(`cannot create queue '${name}': ${errorText(error)}`);
    }
  }

  /**
   * A new queue refused because max_queues are served: counted, logged at most once an interval.
   * One error object per limit, not one per refusal: an Error keeps its stack, and a client past
   * the limit may be refused tens of thousands of times a second.
   */
  private refuseCreate(name: string): QueueUnavailableError {
    this.queueCreatesRefused++;
    const limit = this.config.server.maxQueues;
    if (this.tooManyQueues?.limit !== limit) {
      const reason = `too many queues: max_queues (${limit}) are served; delete some or raise max_queues`;
      this.tooManyQueues = { limit, error: new QueueUnavailableError(reason) };
    }
    const { error } = this.tooManyQueues;
    this.refusedCreates.note("max_queues", `queue '${name}' not created: ${error.message}`);
    return error;
  }

  /**
   * Adds to `name`: to each of an alias's destinations, or to a queue and each of its fanout
   * children (see set_routing.ts). Throws QueueUnavailableError if a queue it reaches can't be
   * created.
   */
  add(name: string, received: Uint8Array, expiry: number, now: number, flags = 0): AddResult {
    return this.routing.add(name, received, expiry, now, flags);
  }

  /** Why a set of `size` bytes to `name` can't be recorded now (see SetRouting.writeFailure), or null. */
  writeFailure(name: string, size = 0): string | null {
    return this.routing.writeFailure(name, size);
  }

  /** Whether `name` is an alias (a get on it finds nothing; see aliases.ts). */
  isAlias(name: string): boolean {
    return this.aliases.has(name);
  }

  /**
   * Deletes queue `name` (nothing if there is none); returns the commit that settles once nothing
   * of it can come back, a power loss included: its journal's files are retired over turns
   * (Journal.retire), and the name is free for a new queue at once.
   */
  delete(name: string): Commit {
    const queue = this.queues.get(name);
    if (queue === undefined) return DURABLE;
    this.queueDeletes++;
    const stats = queue.stats();
    this.totalItemsOfDeleted += stats.totalItems;
    this.openTimedOutOfDeleted += stats.openTransactionsTimedOut;
    this.queues.delete(name);
    this.order.remove(queue);
    const parent = fanoutParent(name);
    if (parent !== null) this.children.get(parent)?.delete(queue);
    const { error, gone } = queue.destroy();
    if (error === null) log.info(`deleted queue '${name}'`);
    else this.markUnavailable(name, `queue '${name}' was deleted but its journal files could not all be removed: ${error}`, "remove");
    return gone;
  }

  /**
   * The periodic sweep: removes expired items from the head of every queue (at most its
   * max_expire_sweep), then deletes the queues max_queue_age says to, a slice per turn (see
   * ExpiryRound). False if the last one still runs.
   */
  sweepExpired(): boolean {
    return this.sweepRound.start(this.queues.values());
  }

  /** Deletes `queue` if it is empty and older than its max_queue_age (Kestrel 2's expireQueue). */
  private expireIfUnused(queue: PersistentQueue): void {
    if (!queue.readyToExpire(monotonicMs())) return;
    this.delete(queue.name);
    this.queueExpires++;
    log.info(`queue '${queue.name}': expired (empty, and created more than max_queue_age = ${queue.settings.maxQueueAge} ms ago)`);
  }

  /** Removes expired items from the head of every queue now (all of them; tests). */
  discardAllExpired(now: number): number {
    let count = 0;
    for (const queue of [...this.queues.values()]) count += queue.discardExpired(now);
    return count;
  }

  /**
   * Prepares a reloaded config for every live queue, running first every step that can fail: for
   * each queue whose journal is turned on (it has none and the config wants one), opening its new
   * journal. If one fails, the new journals are erased and the error (naming the queue) thrown,
   * with the config in force untouched. Otherwise returns the commit step, which switches
   * everything over and cannot fail, and returns in turn the commit that settles once every
   * journal turned on or off has every item where it now belongs (journal_switch.ts: that is
   * done over turns; the `reload` reply waits for it).
   */
  prepareReconfigure(config: KestrelConfig): () => Commit {
    this.checkAliasNames(config);
    const switches: { queue: PersistentQueue; on: boolean; journal: Journal | null }[] = [];
    try {
      for (const queue of this.queues.values()) {
        const settings = queueConfigFor(config, queue.name);
        if (settings.journal === queue.journalWanted) continue;
        // A queue still turning its journal off keeps it: no new one.
        const journal = settings.journal && !queue.hasJournal ? this.newJournal(queue, settings) : null;
        switches.push({ queue, on: settings.journal, journal });
      }
    } catch (error) {
      for (const { queue, journal } of switches) if (journal !== null) eraseJournal(queue.name, journal);
      throw error;
    }
    return () => {
      this.config = config;
      for (const queue of this.queues.values()) queue.reconfigure(queueConfigFor(config, queue.name));
      this.aliases.configure(config.aliases);
      return allOf(switches.map(({ queue, on, journal }) => (!on ? queue.turnJournalOff() : journal === null ? queue.keepJournal() : queue.turnJournalOn(journal))));
    };
  }

  /** Throws a ConfigError if an alias of `config` has the name of a queue here (loaded, or not served). */
  private checkAliasNames(config: KestrelConfig): void {
    const taken = [...config.aliases.keys()].find((name) => this.queues.has(name) || this.unavailable.has(name));
    if (taken === undefined) return;
    const where = `${config.file ?? "config"}: aliases.${taken}`;
    throw new ConfigError(`${where}: '${taken}' is also a queue in ${this.queuePath}; a name is a queue or an alias, not both: delete the queue first (or name the alias differently)`);
  }

  /** The live queue whose file name differs from `name`'s only in case, on a case-insensitive file system; or null. */
  private caseClash(name: string): string | null {
    if (!this.caseInsensitive) return null;
    const file = queueFileName(name).toLowerCase();
    for (const other of [...this.queues.keys(), ...this.unavailable.keys()]) {
      if (other !== name && queueFileName(other).toLowerCase() === file) return other;
    }
    return null;
  }

  /** The live fanout children of `name`, by name. */
  childrenOf(name: string): string[] {
    return [...(this.children.get(name) ?? [])].map((child) => child.name).sort();
  }

  aliasStats(): AliasStats[] {
    return this.aliases.stats();
  }

  /** Queues found on disk that are not served (their journals could not be opened), with why. */
  unavailableQueues(): Array<{ readonly name: string; readonly reason: string }> {
    return [...this.unavailable].map(([name, entry]) => ({ name, reason: entry.reason }));
  }

  all(): IterableIterator<PersistentQueue> {
    return this.queues.values();
  }

  /** Every live queue, by name (the order reports list them in): an array later changes leave as it is. */
  byName(): readonly PersistentQueue[] {
    return this.order.list();
  }

  /** Queues created and deleted since start (the memory pacer counts them as garbage made). */
  get churn(): number {
    return this.queueCreates + this.queueDeletes;
  }

  /** The totals now, every queue summed in one go (at load; reports sum over turns: `totalsSum`). */
  totals(): CollectionTotals {
    const sum = this.totalsSum();
    for (const queue of this.queues.values()) sum.add(queue);
    return sum.totals;
  }

  /** A sum of the totals to add the queues of `byName()`, taken in the same turn, to (see collection_totals.ts). */
  totalsSum(): TotalsSum {
    const { totalItemsOfDeleted: totalItems, openTimedOutOfDeleted: openTransactionsTimedOut, queueCreates, queueCreatesRefused, queueDeletes, queueExpires } = this;
    return new TotalsSum({ totalItems, openTransactionsTimedOut, queueCreates, queueCreatesRefused, queueDeletes, queueExpires });
  }

  /**
   * Keeps the lock in place, loads queues whose journals could not be opened before if the
   * cause is gone, and looks after every journal now (retries after faults, rebuilds files
   * deleted under the server, deletes what is no longer needed, compacts where worth it).
   */
  maintainJournals(): void {
    this.maintainDirectory();
    for (const queue of this.queues.values()) queue.maintainJournal();
  }

  /**
   * Once a second: the same, spread over event-loop turns (a few ms each) and skipping most
   * rounds for idle queues (JournalUpkeep), so 10,000 queues cost no long turn. A round still
   * running when the next is due is left to finish.
   */
  private routineUpkeep(): void {
    if (this.upkeepRound.running) return;
    runGuarded(LOOKING_AFTER, this.lookAfterDirectory);
    this.upkeepRound.start(this.queues.values());
  }

  /** `maintainDirectory`, as the routine upkeep runs it (guarded). */
  private readonly lookAfterDirectory = (): void => this.maintainDirectory();

  private maintainDirectory(): void {
    this.verifyLock();
    if ([...this.unavailable.values()].some((entry) => entry.retry !== null)) this.retryUnavailable();
  }

  private verifyLock(): void {
    try {
      this.lock.verify();
      this.lockCheckFailing = false;
    } catch (error) {
      if (!this.lockCheckFailing) log.error(`could not check the lock ${this.lock.path} (logged once until it works): ${errorText(error)}`);
      this.lockCheckFailing = true;
    }
  }

  /** Tries again to load the queues that could not be opened for a reason that may have passed. */
  private retryUnavailable(): void {
    let scan;
    try {
      scan = scanDataDirectory(this.queuePath);
    } catch {
      return; // the directory can't be read: still unavailable, as logged when it began
    }
    for (const [name, entry] of [...this.unavailable]) {
      const blocked = scan.blocked.get(name);
      const files = scan.queues.get(name) ?? null;
      if (entry.retry === "remove") this.removeLeftovers(name, files);
      else if (entry.retry === null) continue;
      else if (blocked !== undefined) this.markUnavailable(name, blocked, "load");
      else if (this.tryCreate(name, files)) log.info(`queue '${name}': loaded now that its journal can be opened`);
    }
  }

  /** Removes the files a failed delete left; once none is left, the name is free again. */
  private removeLeftovers(name: string, files: QueueFiles | null): void {
    try {
      if (files !== null) removeJournalFiles(this.queuePath, name, files);
    } catch {
      return; // still there: tried again at the next upkeep
    }
    this.unavailable.delete(name);
    log.info(`queue '${name}': the files left by its deletion are removed; the name is free again`);
  }

  /** Ends every blocking get with nothing, a slice of them a turn (the server is stopping, or became quiescent). */
  releaseWaiters(): void {
    for (const queue of this.queues.values()) queue.releaseWaiters();
  }

  /**
   * Writes and syncs every journal (waiters are released); the collection is unusable after.
   * Journals not written since their last fsync need no work; when more than SYNC_EACH_MAX
   * need one, the file system is synced once instead (5,000 fsyncs took 2 s, one syncfs 0.1 s).
   */
  close(): void {
    clearInterval(this.upkeep);
    this.upkeepRound.stop();
    this.sweepRound.stop();
    this.droppedExpired.report();
    this.refusedCreates.report();
    // Wide fanouts' children still waiting for a set's item get it before the journals close.
    feedAll();
    flushJournals();
    const synced = this.syncAllAtOnce();
    for (const queue of this.queues.values()) queue.close(synced);
    // Journals of deleted queues still being retired: what is left is done now (their files replay to nothing after the stop).
    finishRetires(this.queuePath);
    // After the queues' last repairs (a rebuild at close logs through the fault lines too).
    reportFaultLines();
    this.queues.clear();
    this.order.clear();
    this.children.clear();
    this.lock.release();
  }

  /**
   * Syncs the file system holding queue_path if more than SYNC_EACH_MAX journals owe an fsync.
   * False if it did not (too few, or it failed: each journal then fsyncs itself). Never throws.
   */
  private syncAllAtOnce(): boolean {
    let owing = 0;
    for (const queue of this.queues.values()) if (queue.owesSync) owing++;
    if (owing <= SYNC_EACH_MAX) return false;
    try {
      fileSystem.syncFileSystem(this.queuePath);
      return true;
    } catch (error) {
      log.info(`could not sync the file system at once (${errorText(error)}); fsyncing ${owing} journals one by one`);
      return false;
    }
  }

  /** Loads a queue found on disk; if that fails, marks it unavailable. True if it loaded. */
  private tryCreate(name: string, files: QueueFiles | null): boolean {
    try {
      this.create(name, files);
      this.unavailable.delete(name);
      return true;
    } catch (error) {
      this.markUnavailable(name, `journal for queue '${name}' could not be opened: ${errorText(error)}`, error instanceof UnsupportedJournalError ? null : "load");
      return false;
    }
  }

  /** Marks a queue as not served; logs when the reason is new. */
  private markUnavailable(name: string, reason: string, retry: Retry): void {
    const before = this.unavailable.get(name);
    this.unavailable.set(name, { reason, retry });
    if (before?.reason === reason) return;
    if (retry === "remove") return log.error(`${reason}; the name is not served until they are (tried again each second)`);
    const again = retry === "load" ? "tried again each second" : "until a build that reads it runs";
    log.error(`${reason}; the queue is not served (${again}) and its files are left untouched`);
  }

  private create(name: string, files: QueueFiles | null): PersistentQueue {
    const settings = queueConfigFor(this.config, name);
    const opened = this.openJournal(name, files, settings);
    let journal: Journal | null = opened.journal;
    const parent = fanoutParent(name);
    if (!settings.journal) {
      eraseJournal(name, journal); // memory only: what was replayed stays in memory
      journal = null;
    } else if (parent !== null) {
      createOrErase(name, journal);
    }
    const queue = new PersistentQueue(name, settings, journal, opened, this.hooks, this.openTimer);
    this.queues.set(name, queue);
    this.order.add(queue);
    this.queueCreates++;
    if (parent !== null) {
      let set = this.children.get(parent);
      if (set === undefined) this.children.set(parent, (set = new Set()));
      set.add(queue);
    }
    return queue;
  }

  /**
   * A new, empty journal for a queue whose journal a reload turns on, its file created (so one that
   * can't be fails the reload). Throws, naming the queue, with nothing left behind.
   */
  private newJournal(queue: PersistentQueue, settings: QueueConfig): Journal {
    try {
      const journal = this.openJournal(queue.name, null, settings).journal;
      createOrErase(queue.name, journal);
      return journal;
    } catch (error) {
      throw new Error(`queue '${queue.name}': cannot turn its journal on: ${errorText(error)}`);
    }
  }

  /** Opens (or creates) a queue's journal; a memory-only queue reads it all into memory. */
  private openJournal(name: string, files: QueueFiles | null, settings: QueueConfig): OpenedJournal {
    return openJournal({
      dir: this.queuePath,
      name,
      files,
      settings: { policy: settings.syncJournal, segmentSize: settings.maxJournalSize },
      memoryBudget: settings.journal ? settings.maxMemorySize : Infinity,
      events: JOURNAL_LOG,
    });
  }

  /**
   * Moves an expired item to its queue's move_expired_to queue. A target that can't write now
   * (its journal failing, or rebuilt with its memory full, or it can't be created) blocks the
   * move: the item waits. A target that
   * refuses it (full, too large) drops it, as Kestrel does.
   */
  private moveExpired(queue: PersistentQueue, item: Item): Expiry {
    const name = queue.settings.moveExpiredTo;
    if (name === null) return null;
    let target: PersistentQueue;
    try {
      target = this.getOrCreate(name);
    } catch {
      return "blocked";
    }
    if (target.setRefusal(item.data.length) !== null) return "blocked";
    const result = target.add(item.data, 0, Date.now(), item.flags);
    if (typeof result !== "string") return result;
    this.droppedExpired.note(`${queue.name}>${name}:${result}`, `expired item from '${queue.name}' dropped: '${name}' refused it (${result})`);
    return null;
  }
}

/** What a queue's journal says happened to it, in the log (a few lines of a fault of many queues: fault_lines.ts). */
const JOURNAL_LOG: JournalEvents = {
  onFailure(name: string, message: string): void {
    faultErrors.note("journal failed", `queue '${name}': ${message}; sets and gets on it are refused until the journal can be written again`);
  },
  onRecovered(name: string): void {
    faultNotices.note("journal recovered", `queue '${name}': journal writes work again`);
  },
};
