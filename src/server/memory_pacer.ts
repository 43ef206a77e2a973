/**
 * Keeps the process's resident memory close to its live data while traffic flows, without long
 * pauses.
 *
 * Bun's collector runs on its own schedule; under a burst of sets, the garbage it has not yet
 * reclaimed (socket chunks, parsed requests, reply buffers) can double the resident set first,
 * even though read-behind keeps the live data small. The pacer looks at the resident set every
 * CHECK_BYTES of traffic and asks for a collection once it has grown past the floor by GROWTH of
 * the floor (at least MIN_GROWTH). It asks without waiting (`Bun.gc(false)`: the collector marks
 * concurrently, while requests are served; a forced, synchronous one stopped everything for up
 * to half a second at 1M queued items), and reads what the collection left SETTLE_BYTES of
 * traffic later: that is the new floor.
 *
 * Invariant: `floor` is the lowest resident set seen since the last collection settled, or what
 * that collection left, whichever is lower.
 */

/** Traffic between two looks at the resident set. */
const CHECK_BYTES = 1024 * 1024;
/** Traffic after asking for a collection before reading what it left. */
const SETTLE_BYTES = 8 * 1024 * 1024;
/** Growth over the floor that triggers a collection, as a share of the floor... */
const GROWTH = 0.1;
/** ...but never less than this. */
const MIN_GROWTH = 8 * 1024 * 1024;

export class MemoryPacer {
  private floor: number;
  private untilCheck = CHECK_BYTES;
  /** A collection was asked for and its effect not read yet. */
  private settling = false;
  /** Collections the pacer asked for (stats: `memory_collections`). */
  collections = 0;

  constructor(
    private readonly residentBytes: () => number = () => process.memoryUsage.rss(),
    private readonly collect: () => void = () => Bun.gc(false),
  ) {
    this.floor = residentBytes();
  }

  /** Counts `bytes` of client traffic; every CHECK_BYTES, collects if memory outgrew the floor. */
  traffic(bytes: number): void {
    this.untilCheck -= bytes;
    if (this.untilCheck > 0) return;
    this.untilCheck = CHECK_BYTES;
    const resident = this.residentBytes();
    if (this.settling) {
      this.settling = false;
      this.floor = resident;
      return;
    }
    if (resident <= this.floor + Math.max(MIN_GROWTH, this.floor * GROWTH)) {
      this.floor = Math.min(this.floor, resident);
      return;
    }
    this.collect();
    this.collections++;
    this.settling = true;
    this.untilCheck = SETTLE_BYTES;
  }
}
