/**
 * The request bytes the server holds for all its clients at once, against
 * `max_pending_request_bytes`: partial requests (a `set` whose data is still arriving) and
 * requests received but not yet executed.
 *
 * Each connection claims what it needs: the bytes its parser holds, or, once a `set` header was
 * read, the whole data block it announced. A claim that grows is granted if the total stays
 * within the limit, or if no other connection holds a claim (so one request bigger than the
 * limit can still be served); otherwise the connection stops reading (its claim stays at what it
 * holds) until claims are given back. Granted requests have the memory to complete, so clients
 * never wait on each other in a circle: 8 clients sending 64 MiB sets under a 256 MiB limit go
 * 4 at a time. 40 clients each sending most of a 64 MiB `set` and stalling hold about the limit,
 * not 2.4 GiB. Claims under SMALL_CLAIM are always granted: ordinary requests are never held up.
 *
 * Invariants: `total` is the sum of the claims of the open connections; a reader is in `waiting`
 * iff its last claim was refused and it was not yet told to look again.
 */

/** Claims below this are always granted (ordinary requests, a socket read or two). */
export const SMALL_CLAIM = 64 * 1024;

export interface BudgetReader {
  /** Claims were given back: look again at whether to read (claim again). */
  budgetChanged(): void;
}

export class RequestBudget {
  private total = 0;
  private readonly claims = new Map<BudgetReader, number>();
  private readonly waiting = new Set<BudgetReader>();
  /** Claims refused so far (stats: a client had to wait for memory). */
  refusals = 0;

  constructor(private readonly limit: () => number) {}

  /** Request bytes claimed across all connections now. */
  get bytes(): number {
    return this.total;
  }

  /**
   * `reader` holds `held` bytes and needs `needed` (at least `held`). Returns whether it may read
   * on; if not, its claim is what it holds and it is told when to claim again.
   */
  claim(reader: BudgetReader, held: number, needed: number): boolean {
    const before = this.claims.get(reader) ?? 0;
    const others = this.total - before;
    const granted = needed <= Math.max(before, SMALL_CLAIM) || others === 0 || others + needed <= this.limit();
    const claim = granted ? needed : held;
    this.set(reader, before, claim);
    if (granted) {
      this.waiting.delete(reader);
    } else if (!this.waiting.has(reader)) {
      this.waiting.add(reader);
      this.refusals++;
    }
    if (claim < before) this.wakeWaiting();
    return granted;
  }

  /** `reader` is gone: its claim is given back. */
  release(reader: BudgetReader): void {
    const before = this.claims.get(reader) ?? 0;
    this.claims.delete(reader);
    this.waiting.delete(reader);
    this.total -= before;
    if (before > 0) this.wakeWaiting();
  }

  private set(reader: BudgetReader, before: number, claim: number): void {
    this.total += claim - before;
    if (claim === 0) this.claims.delete(reader);
    else this.claims.set(reader, claim);
  }

  /** Claims were given back: every waiting reader claims again (in the order they began to wait). */
  private wakeWaiting(): void {
    if (this.waiting.size === 0) return;
    const readers = [...this.waiting];
    this.waiting.clear();
    for (const reader of readers) reader.budgetChanged();
  }
}
