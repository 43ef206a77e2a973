/**
 * Where a set goes, as in Kestrel 2 (QueueCollection.add, AliasedQueue.add): a set to an alias
 * goes to each of its destinations (queues or aliases); a set to a queue goes to the queue and to
 * each of its fanout children, whatever the queue answers (full, too large, fanout_only), and the
 * queue's answer is the set's. A fanout child that refuses the item just doesn't get it; an
 * alias answers with the first refusal of a destination, as Kestrel's `result && thisResult`.
 *
 * A queue with more than WIDE_FANOUT children, or reached once a set already made WIDE_FANOUT
 * copies (an alias to many parents), gets the item at once and its children over turns
 * (fanout_feed.ts), as does any queue whose earlier set is still being fed; the set's commit
 * settles once all have it.
 *
 * Invariants: every queue a set reaches exists before anything is added (creating one can fail),
 * and none of them has a failing journal, nor one being rebuilt with the queue's memory full
 * ("unavailable" refuses the item for all): a STORED means
 * every queue reached has the item; the item's bytes have one home shared by every copy.
 */
import { JoinedCommits, type Commit } from "../journal/commit.ts";
import { ownedBytes } from "../journal/byte_slab.ts";
import { log } from "../log.ts";
import { WIDE_FANOUT, feedChildren, feeding } from "./fanout_feed.ts";
import type { Alias, AliasTable } from "./aliases.ts";
import type { AddResult, PersistentQueue, Refusal } from "./persistent_queue.ts";

/** What routing needs of the queue collection. */
export interface RoutingView {
  readonly aliases: AliasTable;
  get(name: string): PersistentQueue | undefined;
  /** The queue, created if needed; throws QueueUnavailableError if it can't be. */
  getOrCreate(name: string): PersistentQueue;
  /** The live fanout children of queue `name` (an empty set if none). */
  children(name: string): ReadonlySet<PersistentQueue>;
  /** Queues made and deleted so far (a count that only grows). */
  churn(): number;
}

/**
 * Why a set of `size` bytes to `queue` can't be recorded now (its journal or a child's is failing,
 * or being rebuilt with its memory full: PersistentQueue.setRefusal), or null.
 */
function queueWriteFailure(queue: PersistentQueue, children: ReadonlySet<PersistentQueue>, size: number): string | null {
  const refusal = queue.setRefusal(size);
  if (refusal !== null) return refusal;
  for (const child of children) {
    const childRefusal = child.setRefusal(size);
    if (childRefusal !== null) return `fanout queue '${child.name}': ${childRefusal}`;
  }
  return null;
}

export class SetRouting {
  /** The commit the last fanout set waited on, for the next one in the same turn. */
  private readonly fanoutCommits = new JoinedCommits();
  /** Copies the set being routed made so far. */
  private copies = 0;

  constructor(private readonly view: RoutingView) {}

  /**
   * Adds to `name` and wherever it leads; the commit covers every copy, each with `flags`.
   * Throws QueueUnavailableError if a queue it reaches can't be created (nothing is added then).
   */
  add(name: string, received: Uint8Array, expiry: number, now: number, flags: number): AddResult {
    this.copies = 0;
    const alias = this.view.aliases.get(name);
    if (alias === undefined) {
      // A queue (nearly every set): looked up once, with its children.
      const queue = this.view.getOrCreate(name);
      const children = this.view.children(name);
      if (queueWriteFailure(queue, children, received.length) !== null) return "unavailable";
      return this.addToQueue(queue, children, ownedBytes(received), expiry, now, flags);
    }
    this.createTargets(name);
    if (this.writeFailure(name, received.length) !== null) return "unavailable";
    return this.addToAlias(alias, ownedBytes(received), expiry, now, flags);
  }

  /**
   * Why a set of `size` bytes to `name` can't be recorded now (the journal of a queue it reaches
   * is failing, or is being rebuilt with that queue's memory full), or null.
   */
  writeFailure(name: string, size = 0): string | null {
    const alias = this.view.aliases.get(name);
    if (alias !== undefined) {
      for (const destination of alias.destinations) {
        const failure = this.writeFailure(destination, size);
        if (failure !== null) return failure;
      }
      return null;
    }
    const queue = this.view.get(name);
    return queue === undefined ? null : queueWriteFailure(queue, this.view.children(name), size);
  }

  private createTargets(name: string): void {
    const alias = this.view.aliases.get(name);
    if (alias === undefined) this.view.getOrCreate(name);
    else for (const destination of alias.destinations) this.createTargets(destination);
  }

  private addOwned(name: string, data: Uint8Array, expiry: number, now: number, flags: number): AddResult {
    const alias = this.view.aliases.get(name);
    if (alias !== undefined) return this.addToAlias(alias, data, expiry, now, flags);
    return this.addToQueue(this.view.getOrCreate(name), this.view.children(name), data, expiry, now, flags);
  }

  private addToQueue(queue: PersistentQueue, children: ReadonlySet<PersistentQueue>, data: Uint8Array, expiry: number, now: number, flags: number): AddResult {
    const result = queue.add(data, expiry, now, flags);
    if (children.size === 0) return result;
    this.copies += 1 + children.size;
    if (this.copies > WIDE_FANOUT || feeding(queue)) {
      const fed = feedChildren(queue, children, this.view.churn(), typeof result === "string" ? null : result, data, expiry, now, flags);
      return typeof result === "string" ? result : fed;
    }
    const commits: Commit[] = typeof result === "string" ? [] : [result];
    for (const child of children) {
      const childResult = child.add(data, expiry, now, flags);
      if (typeof childResult === "string") log.debug(`fanout '${child.name}' refused an item: ${childResult}`);
      else commits.push(childResult);
    }
    if (typeof result === "string") return result;
    return commits.length === 1 ? result : this.fanoutCommits.of(commits);
  }

  private addToAlias(alias: Alias, data: Uint8Array, expiry: number, now: number, flags: number): AddResult {
    alias.noteAdd(data.length);
    const commits: Commit[] = [];
    let refusal: Refusal | null = null;
    for (const destination of alias.destinations) {
      const result = this.addOwned(destination, data, expiry, now, flags);
      if (typeof result !== "string") commits.push(result);
      else refusal ??= result;
    }
    return refusal ?? alias.commits.of(commits);
  }
}
