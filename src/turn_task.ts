/**
 * A task run in a later event-loop turn (setImmediate) once, however many times it is asked for
 * before then: the journal flush, the turn scheduler's rounds, the receive budget's turns, a wide
 * fanout's feeding, the admin port's snapshots. Asked for while it runs, it runs once more after.
 *
 * Invariant: at most one run is scheduled at a time.
 */
export function turnTask(run: () => void): () => void {
  let scheduled = false;
  const fire = (): void => {
    scheduled = false;
    run();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(fire);
  };
}
