/**
 * Batches journal writes per event-loop turn: group commit.
 *
 * A writer with unwritten records registers itself here; they are written once the turn's I/O
 * callbacks have run (setImmediate), so the records of every connection served in one turn go
 * out in one write per journal, and the replies waiting on them are released together. A turn
 * writes journals until TURN_BYTES went out, and leaves the rest to the next turn: a 64 MiB item
 * set to a parent with 10 fanout children is written over several turns, with other clients
 * served in between, instead of 704 MiB in one. `flushJournals` writes everything at once
 * (shutdown, tests).
 */
export interface Flushable {
  /** Writes what is pending; returns the bytes written. */
  flush(): number;
}

/** Bytes a turn writes before the journals left wait for the next turn. */
const TURN_BYTES = 8 * 1024 * 1024;

const dirty = new Set<Flushable>();
let scheduled = false;

export function markDirty(writer: Flushable): void {
  dirty.add(writer);
  schedule();
}

/** Writes every journal's pending records now. */
export function flushJournals(): void {
  flush(Infinity);
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    flush(TURN_BYTES);
  });
}

function flush(budget: number): void {
  if (dirty.size === 0) return;
  const writers = [...dirty];
  dirty.clear();
  let written = 0;
  for (let i = 0; i < writers.length; i++) {
    if (written >= budget) {
      // The rest waits for the next turn (ahead of writers made dirty meanwhile: the order holds).
      const waiting = [...writers.slice(i), ...dirty];
      dirty.clear();
      for (const writer of waiting) dirty.add(writer);
      schedule();
      return;
    }
    written += writers[i]!.flush();
  }
}
