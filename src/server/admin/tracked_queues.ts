/**
 * Which queues the admin history keeps series for, when there are more queues than it has room
 * for: the deepest and the busiest, and the ones it already keeps while they stay near the top.
 *
 * Invariants: never more than `limit` names; every name is a queue of `queues`; with `limit` or
 * fewer queues, all of them; the top half of `limit` by items and the rest by traffic are always
 * in. Then come the queues already kept, those ranking within twice `limit` by items or traffic
 * first: so a queue near the cut stays kept while others swap places around it, and loses its
 * series only when a newcomer to the tops needs its place. Cost: one pass over the queues, and a
 * sort of a few times `limit` of them, once a sample.
 */

/** What the choice looks at, for one queue. */
export interface QueueActivity {
  readonly name: string;
  /** Items queued. */
  readonly items: number;
  /** Items in and out per second at the last sample. */
  readonly traffic: number;
}

/** The queues to keep series for, at most `limit` of them; `kept` are those kept until now. */
export function chooseTracked(kept: ReadonlySet<string>, queues: readonly QueueActivity[], limit: number): Set<string> {
  if (queues.length <= limit) return new Set(queues.map((queue) => queue.name));
  const byItems = topRanks(queues, (queue) => queue.items, 2 * limit);
  const byTraffic = topRanks(queues, (queue) => queue.traffic, 2 * limit);
  const best = (i: number) => Math.min(byItems.get(i) ?? Infinity, byTraffic.get(i) ?? Infinity);
  // 0: wanted now; 1: kept and near the top; 2: kept; 3: near the top, which fills any room left.
  const tier = (i: number) => {
    if ((byItems.get(i) ?? Infinity) < Math.ceil(limit / 2) || (byTraffic.get(i) ?? Infinity) < Math.floor(limit / 2)) return 0;
    if (!kept.has(queues[i]!.name)) return 3;
    return best(i) < 2 * limit ? 1 : 2;
  };
  const candidates = new Set([...byItems.keys(), ...byTraffic.keys()]);
  queues.forEach((queue, i) => kept.has(queue.name) && candidates.add(i));
  const ordered = [...candidates].map((i) => ({ i, tier: tier(i), best: best(i) }));
  ordered.sort((a, b) => a.tier - b.tier || a.best - b.best || a.i - b.i);
  const chosen = new Set(ordered.slice(0, limit).map(({ i }) => queues[i]!.name));
  // Room nothing near the top wants: idle queues, in the order given.
  for (const queue of queues) {
    if (chosen.size >= limit) break;
    chosen.add(queue.name);
  }
  return chosen;
}

/**
 * The places of the `count` queues with the largest `value` (0 is the top), by index in
 * `queues`; queues with a value of 0 have no place. One pass, keeping the top sorted.
 */
function topRanks(queues: readonly QueueActivity[], value: (queue: QueueActivity) => number, count: number): Map<number, number> {
  const top: number[] = [];
  queues.forEach((queue, i) => {
    const v = value(queue);
    if (v <= 0 || (top.length === count && v <= value(queues[top[count - 1]!]!))) return;
    let low = 0;
    let high = top.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (value(queues[top[middle]!]!) >= v) low = middle + 1;
      else high = middle;
    }
    top.splice(low, 0, i);
    if (top.length > count) top.pop();
  });
  return new Map(top.map((i, place) => [i, place]));
}
