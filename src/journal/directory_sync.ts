/**
 * Directory fsyncs off the event loop that many ask for at once, shared: one in flight per
 * directory, and the next one made for everyone who asked while it ran. A `delete` of a queue
 * whose journal is one file answers once its rename out of the way is on disk (Journal.retire),
 * and a retire of a bigger one waits for one between its steps (retire_task.ts);
 * max_queue_age deleting thousands of queues in a few turns made as many fsyncs, each holding a
 * descriptor until it returned.
 *
 * Invariant: each `done` runs once, after a directory fsync that began after it was asked for
 * (so it covers every change made to the directory before the call), with that fsync's error.
 */
import { runGuarded } from "../guarded.ts";
import { fsyncDirectoryAsync } from "./files.ts";

type Done = (error: Error | null) => void;

interface DirectoryState {
  /** Who asked since the fsync in flight began: served by the next. */
  next: Done[];
}

/** Directories with an fsync in flight. */
const inFlight = new Map<string, DirectoryState>();

/** Fsyncs `dir` off the event loop, shared with the others asking now; `done` as the header says (never during the call). */
export function syncDirectoryShared(dir: string, done: Done): void {
  const state = inFlight.get(dir);
  if (state !== undefined) return void state.next.push(done);
  start(dir, [done]);
}

function start(dir: string, waiting: readonly Done[]): void {
  const state: DirectoryState = { next: [] };
  inFlight.set(dir, state);
  fsyncDirectoryAsync(dir, (error) => {
    inFlight.delete(dir);
    if (state.next.length > 0) start(dir, state.next);
    // One bug in a `done` costs a log line, not the others' answers.
    for (const done of waiting) runGuarded("running what waited for a directory fsync", () => done(error));
  });
}
