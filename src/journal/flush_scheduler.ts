/**
 * Batches journal writes per event-loop turn: group commit.
 *
 * A writer with unwritten records registers itself here; all of them are written once the turn's
 * I/O callbacks have run (setImmediate), so the records of every connection served in one turn
 * go out in one write per journal, and the replies waiting on them are released together.
 * `flushJournals` writes at once (shutdown, tests).
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
    setImmediate(flushJournals);
  }
}

export function flushJournals(): void {
  scheduled = false;
  if (dirty.size === 0) return;
  const writers = [...dirty];
  dirty.clear();
  for (const writer of writers) writer.flush();
}
