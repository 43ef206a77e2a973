/**
 * A group of journal records written (and, under `always`, fsynced) together.
 *
 * A commit settles exactly once, as durable or failed; listeners added after that run at once.
 * Whoever waits on a record (a STORED reply) holds the commit that covers it.
 */
export type CommitState = "pending" | "durable" | "failed";

export class Commit {
  state: CommitState = "pending";
  error = "";
  private listeners: Array<() => void> = [];

  onSettled(listener: () => void): void {
    if (this.state === "pending") this.listeners.push(listener);
    else listener();
  }

  settle(state: "durable" | "failed", error = ""): void {
    if (this.state !== "pending") return;
    this.state = state;
    this.error = error;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

/** A commit that is already durable: for records that need no wait (memory-only queues). */
export const DURABLE: Commit = (() => {
  const commit = new Commit();
  commit.settle("durable");
  return commit;
})();

/** A commit that settles when all of `commits` have: durable only if every one is. */
export function allOf(commits: readonly Commit[]): Commit {
  if (commits.length === 0) return DURABLE;
  if (commits.length === 1) return commits[0]!;
  const combined = new Commit();
  let left = commits.length;
  for (const commit of commits) {
    commit.onSettled(() => {
      if (--left > 0) return;
      const failed = commits.find((c) => c.state === "failed");
      combined.settle(failed === undefined ? "durable" : "failed", failed?.error ?? "");
    });
  }
  return combined;
}
