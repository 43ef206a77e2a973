/**
 * A queue's journal upkeep, once a second: retry a write or read-back after a fault, rebuild files deleted or cut
 * under the server (or a journal a reload turned on whose items could not all be written to it), finish a pack install a fault cut short, delete segments nothing live is in,
 * give a drained queue a fresh journal, compact one grown far beyond its live data.
 *
 * An idle queue (nothing appended since its last upkeep, nothing failing) needs none of that
 * each second: a routine upkeep looks at its files only every IDLE_ROUNDS rounds, spread over
 * the rounds so a server with 10,000 quiet queues checks a tenth of them each second. A thorough
 * one (tests, operators' tools) looks at every queue.
 *
 * A routine upkeep's rebuild runs over turns, its fsyncs off the event loop and the items waiting
 * on disk copied a slice per turn (Journal.rebuildInTurns), through the server's rebuild lane
 * (rebuild_lane.ts: a few at once, the others waiting their turn); it takes the queue's state when
 * it starts (the queue reads nothing back until it ended, and the positions of the items waiting
 * on disk move with it), and the upkeep leaves the journal alone until it ended; one that failed
 * is tried again at the next upkeep. A thorough upkeep's (tests, tools: what it starts is done
 * when it returns) and a repair before a clean stop are done in the call.
 *
 * It sees its queue only through `UpkeepView`, and stops once the queue dropped the journal (a
 * switch off that its read-back retry let through). Never throws: a failing step is logged once and
 * tried again at the next upkeep, and logged again once it works. A fault of many queues at once
 * (queue_path deleted under 10,000 queues) logs a few lines of each kind and counts the rest
 * (fault_lines.ts; a repair at a stop too); items lost are logged for every queue.
 */
import type { QueueConfig } from "../config/schema.ts";
import { errorText } from "../errors.ts";
import type { Position } from "../journal/add_reader.ts";
import type { Journal } from "../journal/journal.ts";
import type { Rebuilt } from "../journal/journal_rebuild.ts";
import type { DiskRegion } from "../journal/replay_state.ts";
import { packBytes, type PackEntry } from "../journal/pack.ts";
import { log } from "../log.ts";
import { faultErrors as errors, faultNotices as notices, faultWarnings as warnings } from "./fault_lines.ts";
import { inRebuildLane } from "./rebuild_lane.ts";

/** A drained queue whose journal is bigger than this (or max_journal_size) gets a fresh one. */
const DRAINED_JOURNAL_BYTES = 64 * 1024;
/** A routine upkeep looks at an idle queue's files once in this many rounds. */
export const IDLE_ROUNDS = 10;

/** What upkeep needs to know of its queue. */
export interface UpkeepView {
  readonly name: string;
  readonly settings: Pick<QueueConfig, "maxJournalSize" | "maxJournalOverflow">;
  /** Items queued (memory and disk) and open, and their bytes. */
  live(): { readonly items: number; readonly open: number; readonly bytes: number };
  /** Where read-behind reads next, or null when every item is in memory. */
  readFrom(): Position | null;
  /** The smallest id of a live item in memory. */
  minLiveId(): number;
  /** Open items, then the items in memory: the queue's state when every item is in memory. */
  liveEntries(): PackEntry[];
  /** Where the items waiting on disk start, how many, ... (null if every item is in memory). */
  diskRegion(): DiskRegion | null;
  /** After a rebuild: where the items waiting on disk are now (the journal has every item again). */
  relocateDisk(region: DiskRegion | null): void;
  /** Why the journal lacks items the queue holds (a journal turned on whose fill failed), or null. */
  journalGap(): string | null;
  /** Tries again a read-back that failed (and so resumes a switch off held up by it, which may drop the journal). */
  retryReadBack(): void;
  /** Whether the queue still keeps its journal (a switch off drops it once every item is in memory). */
  readonly hasJournal: boolean;
}

export class JournalUpkeep {
  private failing = false;
  /** A rebuild over turns waits in the rebuild lane (see `rebuild`). */
  private inLane = false;
  /** What made the journal need a rebuild that has not succeeded yet (logged once). */
  private rebuildProblem: string | null = null;
  /** `journal.appends` at the last upkeep that looked at the files. */
  private seenAppends = -1;
  /** Routine rounds to skip before looking at an idle queue's files again (spread at random). */
  private idleRoundsLeft = Math.floor(Math.random() * IDLE_ROUNDS);

  /** One upkeep; a routine one (`thorough` false) skips the files of an idle queue most rounds. */
  run(journal: Journal, queue: UpkeepView, thorough = true): void {
    if (thorough) this.finishRebuild(journal, queue);
    // A rebuild under way or waiting its turn: the journal's files are its own until it ends (a
    // thorough upkeep finishes one under way now, and one waiting finds nothing to do when it starts).
    if ((journal.rebuilding || this.inLane) && !thorough) return;
    try {
      journal.retry();
      queue.retryReadBack();
      // The read-back let a switch off through: the journal is dropped, its files being retired.
      // Looking at them now would find the active file gone and rebuild it, files and all, from
      // a queue in memory only (its items would come back at the next start, taken or not).
      if (!queue.hasJournal) return;
      if (!thorough && queue.journalGap() === null && !this.due(journal)) return;
      this.seenAppends = journal.appends;
      const problem = queue.journalGap() ?? journal.checkFiles();
      if (problem !== null) return this.rebuild(journal, queue, problem, thorough);
      // Rotating or compacting a failing journal would only fail too.
      if (journal.failure !== null) return;
      journal.finishPendingPack();
      tidy(journal, queue);
      if (this.failing) notices.note("upkeep recovered", `queue '${queue.name}': journal upkeep works again`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) errors.note("upkeep failed", `queue '${queue.name}': journal upkeep failed, tried again each second (logged once until it works): ${errorText(error)}`);
      this.failing = true;
    }
  }

  /** Puts a rebuild under way in place now (see Journal.finishRebuild). Never throws. */
  finishRebuild(journal: Journal, queue: UpkeepView): void {
    try {
      journal.finishRebuild();
    } catch (error) {
      this.rebuildFailed(queue, errorText(error));
    }
  }

  /** Whether a routine upkeep should look at the files: the journal changed or is failing, or it is this idle queue's turn. */
  private due(journal: Journal): boolean {
    if (journal.appends !== this.seenAppends || this.rebuildProblem !== null || this.failing || journal.failure !== null || journal.compacting || journal.releasing) return true;
    if (this.idleRoundsLeft > 0) {
      this.idleRoundsLeft--;
      return false;
    }
    this.idleRoundsLeft = IDLE_ROUNDS - 1;
    return true;
  }

  /** Before a clean stop: only what keeps the files whole (a retry, a rebuild). */
  repair(journal: Journal, queue: UpkeepView): void {
    try {
      journal.finishRebuild();
      journal.retry();
      const problem = queue.journalGap() ?? journal.checkFiles();
      if (problem !== null) this.rebuild(journal, queue, problem, true);
    } catch (error) {
      errors.note("repair failed", `queue '${queue.name}': could not repair the journal before stopping: ${errorText(error)}`);
    }
  }

  /**
   * The journal's files no longer replay to the queue (deleted, replaced or cut under the running
   * server): writes everything the queue holds as a new journal, the items in memory and those
   * waiting on disk (copied from the segments still there; those in files that are gone are lost,
   * and the log says how many). It runs over turns (rebuildInTurns) unless `inTurn` (a thorough
   * upkeep, a repair before a clean stop).
   */
  private rebuild(journal: Journal, queue: UpkeepView, problem: string, inTurn = false): void {
    if (this.rebuildProblem !== problem) errors.note("rebuilding", `queue '${queue.name}': ${problem}; rebuilding the journal from the queue`);
    this.rebuildProblem = problem;
    if (!inTurn) {
      this.inLane = true;
      return inRebuildLane((done) => {
        this.inLane = false;
        this.rebuildInTurns(journal, queue, done);
      });
    }
    const entries = queue.liveEntries();
    this.rebuilt(queue, entries.length, journal.rebuild(entries, queue.diskRegion()));
  }

  /**
   * Starts the rebuild over turns, in its turn of the lane, from the queue's state now; `done`
   * once it ended, or at once if none started (the files need none any more, the journal was
   * closed or erased meanwhile). Never throws.
   */
  private rebuildInTurns(journal: Journal, queue: UpkeepView, done: () => void): void {
    if (journal.rebuilding) return done();
    let started = false;
    try {
      // Done meanwhile (a thorough upkeep), or the queue deleted: nothing to do.
      if ((queue.journalGap() ?? journal.checkFiles()) === null) return done();
      const entries = queue.liveEntries();
      started = journal.rebuildInTurns(
        entries,
        (end) => {
          done();
          if (end === "cancelled") return; // the queue was deleted
          if ("failed" in end) return this.rebuildFailed(queue, end.failed);
          this.rebuilt(queue, entries.length, end.rebuilt);
        },
        queue.diskRegion(),
      );
    } catch (error) {
      this.rebuildFailed(queue, errorText(error));
    }
    if (!started) done();
  }

  /** A rebuild committed: the queue learns where its items waiting on disk are now. */
  private rebuilt(queue: UpkeepView, inMemory: number, rebuilt: Rebuilt): void {
    queue.relocateDisk(rebuilt.disk);
    this.rebuildProblem = null;
    const waiting = rebuilt.disk?.count ?? 0;
    warnings.note("rebuilt", `queue '${queue.name}': journal rebuilt from the ${inMemory + waiting} item(s) held${waiting > 0 ? ` (${waiting} of them waiting on disk)` : ""}`);
    if (rebuilt.lost > 0) log.error(`queue '${queue.name}': ${rebuilt.lost} item(s) that waited on disk were in files that are gone: lost`);
  }

  /** A rebuild over turns failed (the writer fails until one works): logged as a failed upkeep, tried again at the next. */
  private rebuildFailed(queue: UpkeepView, reason: string): void {
    if (!this.failing) errors.note("upkeep failed", `queue '${queue.name}': journal upkeep failed, tried again each second (logged once until it works): ${reason}`);
    this.failing = true;
  }
}

/**
 * Deletes what the journal no longer needs; compacts or resets it where worth it. A compaction is
 * worth it when the journal passed max_journal_overflow x max_journal_size and the pack would be
 * under max_journal_size, records included (`packBytes`): counting only the items' data, a queue
 * of tiny items was packed into a journal as big as before, and compacted again at every upkeep.
 */
function tidy(journal: Journal, queue: UpkeepView): void {
  const { maxJournalSize: limit, maxJournalOverflow } = queue.settings;
  const live = queue.live();
  if (live.items === 0 && live.open === 0) {
    const size = journal.size;
    if (size <= Math.min(DRAINED_JOURNAL_BYTES, limit) && journal.segmentCount === 1) return;
    journal.dropDrained();
    if (size >= limit) log.info(`queue '${queue.name}': drained; journal reset, ${(size / 1048576).toFixed(1)} MiB freed`);
    return;
  }
  const readFrom = queue.readFrom();
  journal.releaseDead(queue.minLiveId(), readFrom);
  if (journal.size > limit * maxJournalOverflow && packBytes(live.items, live.open, live.bytes) < limit && readFrom === null && !journal.compacting) {
    journal.compact(queue.liveEntries());
  }
}
