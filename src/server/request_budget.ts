/**
 * The request bytes the server holds for all its clients at once, against
 * `max_pending_request_bytes`: partial requests (a `set` whose data is still arriving) and
 * requests received but not yet executed.
 *
 * A connection's claim is the bytes it has received and not yet executed: what it really holds,
 * never what a header announced, so a client that sends a `set` header and nothing more holds
 * next to nothing (issue 9, attack 9: four headers announcing 64 MiB used to claim the whole
 * 256 MiB and stop everyone else's big sets). Each time a connection would read on, it says
 * what it holds and what its current request needs in all (the announced data block, or what it
 * holds), and may read on when:
 *   - the request is small (needs at most SMALL_CLAIM): ordinary requests are never held up;
 *   - no other connection holds anything: one request bigger than the limit can still be served;
 *   - its whole request fits next to what the others hold now (others + needed <= limit); or
 *   - it was chosen to finish (below).
 * Otherwise it stops reading (keeping what it holds) until claims are given back.
 *
 * Why no client waits on another in a circle: the third rule admits a reader only if it could
 * complete even if nobody else gave anything back, so after each admission there is an order
 * (that reader first, then the order that existed before) in which every holder can complete
 * within the limit: the banker's "safe state". What it doesn't cover is the socket read (up to
 * 512 KiB) each connection being read receives before it is asked again; with many readers at
 * once (attack 1: 40) those add up and can leave a state where no holder fits. So whenever a
 * claim is refused the budget checks (once per microtask, in O(h log h) for h holders) whether
 * the holders can still complete one after another, smallest remainder first, as if every client
 * kept sending; if not, the first waiting one from there on is chosen to finish its request
 * regardless of the limit, which it then exceeds by about those socket reads. (The finisher is a
 * waiting reader: one that is being read already needs no help.) A client that stalls while
 * holding a claim delays only those that don't fit next to what it holds, as any memory bound
 * must; one that holds nothing delays nobody.
 *
 * Bound: the claims total at most `limit` (or one request of `max_request_size` when it is
 * alone), plus one socket read per connection being read, plus the SMALL_CLAIMs.
 *
 * Invariants: `total` is the sum of `held` over the open connections; a reader is in `waiting`
 * iff its last claim was refused and it was not yet told to look again; `finisher`, when set,
 * holds a claim and still needs more than it holds.
 */

/** Requests that need at most this are always let through (ordinary requests, a socket read or two). */
export const SMALL_CLAIM = 64 * 1024;

export interface BudgetReader {
  /** Claims were given back: look again at whether to read (claim again). */
  budgetChanged(): void;
}

interface Claim {
  held: number;
  needed: number;
}

export class RequestBudget {
  private total = 0;
  private readonly claims = new Map<BudgetReader, Claim>();
  private readonly waiting = new Set<BudgetReader>();
  /** The reader allowed past the limit so that the holders can't wait on each other in a circle. */
  private finisher: BudgetReader | null = null;
  private checkScheduled = false;
  /** Claims refused so far (stats: a client had to wait for memory). */
  refusals = 0;

  constructor(private readonly limit: () => number) {}

  /** Request bytes held across all connections now. */
  get bytes(): number {
    return this.total;
  }

  /**
   * `reader` holds `held` bytes and its current request needs `needed` in all (at least `held`).
   * Returns whether it may read on; if not, it is told when to claim again.
   */
  claim(reader: BudgetReader, held: number, needed: number): boolean {
    const before = this.claims.get(reader)?.held ?? 0;
    const others = this.total - before;
    this.set(reader, before, held, needed);
    if (this.finisher === reader && held >= needed) this.finisher = null;
    const granted = needed <= SMALL_CLAIM || others === 0 || others + needed <= this.limit() || this.finisher === reader;
    if (granted) {
      this.waiting.delete(reader);
    } else {
      if (!this.waiting.has(reader)) {
        this.waiting.add(reader);
        this.refusals++;
      }
      this.scheduleCheck();
    }
    if (held < before) this.wakeWaiting();
    return granted;
  }

  /** `reader` is gone: its claim is given back. */
  release(reader: BudgetReader): void {
    const before = this.claims.get(reader)?.held ?? 0;
    this.claims.delete(reader);
    this.waiting.delete(reader);
    if (this.finisher === reader) this.finisher = null;
    this.total -= before;
    if (before > 0) this.wakeWaiting();
  }

  private set(reader: BudgetReader, before: number, held: number, needed: number): void {
    this.total += held - before;
    if (held === 0) {
      this.claims.delete(reader);
      if (this.finisher === reader) this.finisher = null;
    } else {
      this.claims.set(reader, { held, needed });
    }
  }

  /** Claims were given back: every waiting reader claims again (in the order they began to wait). */
  private wakeWaiting(): void {
    if (this.waiting.size === 0) return;
    const readers = [...this.waiting];
    this.waiting.clear();
    for (const reader of readers) reader.budgetChanged();
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    queueMicrotask(() => {
      this.checkScheduled = false;
      this.chooseFinisherIfStuck();
    });
  }

  /** If the holders can't all complete one after another within the limit, lets a waiting one finish. */
  private chooseFinisherIfStuck(): void {
    if (this.finisher !== null || this.waiting.size === 0) return;
    const stuck = firstStuckWaiting(this.claims, this.waiting, this.limit() - this.total);
    if (stuck === null) return;
    this.finisher = stuck;
    this.waiting.delete(stuck);
    stuck.budgetChanged();
  }
}

/**
 * The banker's check: takes the holders in order of what they still need, smallest first, each
 * completing within `free` and then giving back what it held. Returns null if all can; else,
 * from the first that can't on, the first that is waiting (one that is not is being read
 * already), or null if none is. Small requests complete regardless of the limit.
 */
function firstStuckWaiting(claims: ReadonlyMap<BudgetReader, Claim>, waiting: ReadonlySet<BudgetReader>, free: number): BudgetReader | null {
  const incomplete: Array<[BudgetReader, Claim]> = [];
  for (const entry of claims) {
    const claim = entry[1];
    if (claim.needed <= SMALL_CLAIM || claim.held >= claim.needed) free += claim.held;
    else incomplete.push(entry);
  }
  incomplete.sort(([, a], [, b]) => a.needed - a.held - (b.needed - b.held));
  const stuckFrom = incomplete.findIndex(([, claim]) => {
    if (claim.needed - claim.held > free) return true;
    free += claim.held;
    return false;
  });
  if (stuckFrom === -1) return null;
  return incomplete.slice(stuckFrom).find(([reader]) => waiting.has(reader))?.[0] ?? null;
}
