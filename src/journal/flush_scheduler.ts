/**
 * Batches journal writes per event-loop turn.
 *
 * A writer with unwritten records registers itself here; all of them are written at the end of
 * the turn (a microtask), or earlier when a caller that is about to reply calls `flushJournals`.
 * One write per journal per turn is what makes group commit work.
 */
export interface Flushable {
  flush(): void;
}

const dirty = new Set<Flushable>();
let scheduled = false;

export function markDirty(writer: Flushable): void {
  dirty.add(writer);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flushJournals);
  }
}

export function flushJournals(): void {
  scheduled = false;
  if (dirty.size === 0) return;
  const writers = [...dirty];
  dirty.clear();
  for (const writer of writers) writer.flush();
}
