/**
 * Running one piece of work among many so that a bug in it (an exception) costs that piece
 * alone: a commit's listeners, a turn's queued runs, a timer's due deadlines, a lane's slices.
 * The error is logged once, as `internal error <what>: <reason>` (the wording every caught bug
 * is logged with), and the caller goes on with the next piece: its loop or timer stays armed,
 * and nothing reaches main.ts's last resort, which would end the server (issue 9). A piece whose
 * bug may leave its state half changed names how to mend it (`runGuardedWith`'s `mend`: a
 * journal whose write threw fails until its retry cuts the file back and writes it again).
 *
 * Cheap enough for hot paths (Commit.settle runs for every set and get): `runGuarded` takes the
 * function the caller already holds, so it allocates nothing, and a try/catch costs next to
 * nothing in JSC until something throws. On a hot path, name `what` with a constant, not a
 * string built per call.
 */
import { errorText } from "./errors.ts";
import { log } from "./log.ts";

/** Logs `error`, a bug caught while `what` (a phrase: "firing a deadline"); returns its one-line reason. */
export function logBug(what: string, error: unknown): string {
  const reason = errorText(error);
  log.error(`internal error ${what}: ${reason}`);
  return reason;
}

/** Runs `run`; if it throws (a bug), logs it (`logBug`) and returns. Never throws. */
export function runGuarded(what: string, run: () => void): void;
/** Runs `run` and returns its result; if it throws (a bug), logs it (`logBug`) and returns `ifBug`. Never throws. */
export function runGuarded<T>(what: string, run: () => T, ifBug: T): T;
export function runGuarded<T>(what: string, run: () => T, ifBug?: T): T | undefined {
  try {
    return run();
  } catch (error) {
    logBug(what, error);
    return ifBug;
  }
}

/**
 * `runGuarded` for a run that takes an argument, so a caller on a hot path needn't make a closure
 * per call. A run whose bug may leave `arg` in need of mending (a journal whose write stopped
 * midway) names `mend`: once the bug is logged, it gets `arg` and the bug's reason. A bug in
 * `mend` itself is logged too (`<what> (mending after it)`), and goes no further.
 */
export function runGuardedWith<A>(what: string, run: (arg: A) => void, arg: A, mend?: (arg: A, reason: string) => void): void {
  try {
    run(arg);
  } catch (error) {
    const reason = logBug(what, error);
    if (mend !== undefined) runGuardedWith(`${what} (mending after it)`, mendNow, { mend, arg, reason });
  }
}

interface Mending<A> {
  readonly mend: (arg: A, reason: string) => void;
  readonly arg: A;
  readonly reason: string;
}

function mendNow<A>(mending: Mending<A>): void {
  mending.mend(mending.arg, mending.reason);
}
