/**
 * A group of journal records written (and, under `always`, fsynced) together.
 *
 * A commit settles exactly once, as durable or failed; listeners added after that run at once.
 * Whoever waits on a record (a STORED reply) holds the commit that covers it. A failed commit
 * whose records the writer kept for a later attempt names that attempt's commit as `retry`: a
 * reply waiting on those records (a STORED, a get's REMOVE) waits for it, so it never says other
 * than what ends up on disk.
 *
 * Settling never throws: a listener that does (a bug) is logged and the others still run, so the
 * batch's other replies and the journal's fsync pipeline, which settles its commits, go on.
 */
import { runGuarded } from "../guarded.ts";

/** What a listener's bug is logged as. */
const LISTENING = "running what waited for a commit";

export type CommitState = "pending" | "durable" | "failed";

export class Commit {
  state: CommitState = "pending";
  error = "";
  /** For a failed commit: the commit of the next attempt to write its records, if there is one. */
  retry: Commit | null = null;
  /** Who waits, while pending; null before the first (most commits of an idle queue have none) and once settled. */
  private listeners: Array<() => void> | null = null;

  onSettled(listener: () => void): void {
    if (this.state !== "pending") return listener();
    (this.listeners ??= []).push(listener);
  }

  settle(state: "durable" | "failed", error = "", retry: Commit | null = null): void {
    if (this.state !== "pending") return;
    this.state = state;
    this.error = error;
    this.retry = state === "failed" ? retry : null;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners !== null) for (const listener of listeners) runGuarded(LISTENING, listener);
  }
}

/** A commit that is already durable: for records that need no wait (memory-only queues). */
export const DURABLE: Commit = (() => {
  const commit = new Commit();
  commit.settle("durable");
  return commit;
})();

/**
 * A commit that settles when all of `commits` have: durable only if every one is. If some failed
 * and each of those has a retry, the combined commit's retry covers those retries.
 */
export function allOf(commits: readonly Commit[]): Commit {
  if (commits.length === 0) return DURABLE;
  if (commits.length === 1) return commits[0]!;
  const combined = new Commit();
  let left = commits.length;
  for (const commit of commits) {
    commit.onSettled(() => {
      if (--left > 0) return;
      const failed = commits.filter((c) => c.state === "failed");
      if (failed.length === 0) return combined.settle("durable");
      const retries = failed.map((c) => c.retry);
      const retry = retries.every((r) => r !== null) ? allOf(retries as Commit[]) : null;
      combined.settle("failed", failed[0]!.error, retry);
    });
  }
  return combined;
}

/**
 * `allOf` that hands back the commit it made last time when given the same commits again, in the
 * same order: the sets of one turn to a fanout parent all wait on the same batch of each of its
 * 501 queues, and one combined commit serves them all instead of 501 listeners per set.
 */
export class JoinedCommits {
  private commits: readonly Commit[] = [];
  private combined: Commit = DURABLE;

  of(commits: readonly Commit[]): Commit {
    if (commits.length !== this.commits.length || commits.some((commit, i) => commit !== this.commits[i])) {
      this.commits = commits;
      this.combined = allOf(commits);
    }
    return this.combined;
  }
}

/**
 * Runs `action` once `commit` is durable, following its retries; never if it finally fails (the
 * records are then not on disk, and whatever `action` would confirm must not be confirmed).
 */
export function onceDurable(commit: Commit, action: () => void): void {
  commit.onSettled(() => {
    if (commit.state === "durable") action();
    else if (commit.retry !== null) onceDurable(commit.retry, action);
  });
}
