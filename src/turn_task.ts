/**
 * A task run in a later event-loop turn (setImmediate) once, however many times it is asked for
 * before then: the journal flush, the turn scheduler's rounds, the receive budget's turns, a wide
 * fanout's feeding, the admin port's snapshots. Asked for while it runs, it runs once more after.
 *
 * A task that throws (a bug) is logged once, as `internal error <what>` with the name its owner
 * gave it, and goes no further: nothing reaches main.ts's last resort, which would end the
 * server, and the task runs again the next time it is asked for. This is the last line of
 * defence only: a task that runs many independent pieces guards each (guarded.ts), so one
 * piece's bug costs that piece alone and the task still asks for its next run itself.
 *
 * Invariant: at most one run is scheduled at a time.
 */
import { runGuarded } from "./guarded.ts";

/** `what`: the task, as its bug is logged ("writing a turn's journals"), a constant. */
export function turnTask(what: string, run: () => void): () => void {
  let scheduled = false;
  const fire = (): void => {
    scheduled = false;
    runGuarded(what, run);
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(fire);
  };
}
