/**
 * Making the queues a read names, a slice per event-loop turn when there are many. A fanout
 * child's journal file is created with it (1-1.6 ms each on the development VM), so one `get`
 * naming 100 new children was one 160 ms turn. The queues are made a slice at a time with the
 * session suspended (its later requests wait), then `then` runs: the read itself, which finds
 * them made (src/queue/sliced_round.ts does the slicing, in the turns the connections share:
 * turn_scheduler.ts `sharedTurns`). A name that can't be made is left to
 * the read, which reports it. Queues made before the connection closed stay, as they do when a
 * read fails part-way.
 */
import { SlicedRound } from "../../queue/sliced_round.ts";
import type { ServerContext } from "../context.ts";
import { sharedTurns } from "../turn_scheduler.ts";
import { queueNamed } from "./queue_commands.ts";
import type { Session } from "./session.ts";

/** New queues a read makes at once, with no turns in between. */
export const MADE_AT_ONCE = 8;

/** Makes the queues `names` (at least one a turn; a slice of SlicedRound's default unless `sliceMs`), then runs `then`. */
export function createInTurns(names: readonly string[], session: Session, ctx: ServerContext, then: () => void, sliceMs?: number): void {
  const round = new SlicedRound<string>(
    (name) => void queueNamed(ctx, name),
    // The read meets the same error when it names the queue, and reports it.
    () => {},
    sliceMs,
    sharedTurns,
  );
  session.suspend(() => round.stop());
  round.start(names, () =>
    session.continueSafely("serving a get after making its queues", () => {
      session.resume();
      then();
    }),
  );
}
