/**
 * Making the queues a read names, a slice per event-loop turn when there are many. A fanout
 * child's journal file is created with it (1-1.6 ms each on the development VM), so one `get`
 * naming 100 new children was one 160 ms turn. The queues are made SLICE_MS at a time with the
 * session suspended (its later requests wait), then `then` runs: the read itself, which finds
 * them made. A name that can't be made is left to the read, which reports it. Queues made before
 * the connection closed stay, as they do when a read fails part-way.
 */
import type { ServerContext } from "../context.ts";
import { queueNamed } from "./queue_commands.ts";
import type { Session } from "./session.ts";

/** Work per turn on making queues. */
const SLICE_MS = 2;
/** New queues a read makes at once, with no turns in between. */
export const MADE_AT_ONCE = 8;

/** Makes the queues `names` (at least one a turn), then runs `then`. */
export function createInTurns(names: readonly string[], session: Session, ctx: ServerContext, then: () => void, sliceMs = SLICE_MS): void {
  let next = 0;
  let cancelled = false;
  session.suspend(() => (cancelled = true));
  const slice = (): void => {
    if (cancelled) return;
    const until = performance.now() + sliceMs;
    do {
      try {
        queueNamed(ctx, names[next]!);
      } catch {
        // The read meets the same error when it names the queue, and reports it.
      }
      next++;
    } while (next < names.length && performance.now() < until);
    if (next < names.length) return void setImmediate(slice);
    session.resume();
    then();
  };
  slice();
}
