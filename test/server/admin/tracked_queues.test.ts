import { expect, test } from "bun:test";
import { TrackedChoice, type QueueActivity } from "../../../src/server/admin/tracked_queues.ts";

/** The queues to keep series for, at most `limit` of them, offered in one go; `kept` are those kept until now. */
function chooseTracked(kept: ReadonlySet<string>, queues: readonly QueueActivity[], limit: number): Set<string> {
  const choice = new TrackedChoice(kept, limit);
  for (const queue of queues) choice.add(queue);
  return new Set(choice.finish().map((queue) => queue.name));
}

const queue = (name: string, items: number, traffic = 0): QueueActivity => ({ name, items, traffic });

/** `count` queues q0..q<count-1>, q<i> with `items(i)` items and `traffic(i)` items in and out a second. */
function queues(count: number, items: (i: number) => number, traffic: (i: number) => number = () => 0): QueueActivity[] {
  return Array.from({ length: count }, (_, i) => queue(`q${i}`, items(i), traffic(i)));
}

test("with no more queues than the limit, every queue is kept", () => {
  const all = queues(4, () => 0);
  expect(chooseTracked(new Set(), all, 4)).toEqual(new Set(["q0", "q1", "q2", "q3"]));
});

test("with more, the deepest half and the busiest rest are kept, never more than the limit", () => {
  // q0..q9 deep (items 1000 - i), q10..q19 busy (traffic), q20..q999 idle.
  const all = queues(1000, (i) => (i < 10 ? 1000 - i : 0), (i) => (i >= 10 && i < 20 ? 100 + i : 0));
  const chosen = chooseTracked(new Set(), all, 8);
  expect(chosen).toEqual(new Set(["q0", "q1", "q2", "q3", "q19", "q18", "q17", "q16"]));
});

test("a kept queue stays while it ranks within twice the limit, until a newcomer to the top needs its place", () => {
  const deep = (order: number[]) => order.map((n, rank) => queue(`q${n}`, 100 - rank));
  // Limit 4: the top 2 by items are wanted, q2 and q3 fill the room.
  const first = chooseTracked(new Set(), [...deep([0, 1, 2, 3, 4, 5])], 4);
  expect(first).toEqual(new Set(["q0", "q1", "q2", "q3"]));
  // q4 overtakes q3 but is not in the top 2: q3 still ranks within 8 and nothing needs its place.
  expect(chooseTracked(first, deep([0, 1, 2, 4, 3, 5]), 4)).toEqual(first);
  // q5 jumps to the top: it takes the place of the kept queue that ranks lowest (q3, now 6th).
  expect(chooseTracked(first, deep([5, 0, 1, 2, 4, 3]), 4)).toEqual(new Set(["q5", "q0", "q1", "q2"]));
});

test("queues with no items and no traffic fill only room nothing else wants, those kept first", () => {
  const all = [queue("a", 0), queue("b", 5), queue("c", 0, 3), queue("d", 0)];
  const chosen = chooseTracked(new Set(["d"]), all, 3);
  expect(chosen).toEqual(new Set(["b", "c", "d"]));
});

test("queues given deepest last, or all equal, rank by depth and then by the order given", () => {
  const rising = queues(1000, (i) => i);
  expect(chooseTracked(new Set(), rising, 8)).toEqual(new Set(["q999", "q998", "q997", "q996", "q995", "q994", "q993", "q992"]));
  const level = queues(1000, () => 7, (i) => (i % 2 === 0 ? 0 : 1));
  expect(chooseTracked(new Set(), level, 8)).toEqual(new Set(["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q9"]));
});
