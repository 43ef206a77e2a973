import { expect, test } from "bun:test";
import { Deque } from "../../src/queue/deque.ts";
import { seededRandom } from "../helpers/bytes.ts";

test("Deque behaves like an array under random push/shift/unshift, across growth and shrinking", () => {
  const random = seededRandom(42);
  const deque = new Deque<number>();
  const model: number[] = [];
  for (let step = 0; step < 20_000; step++) {
    const r = random();
    if (r < 0.45) {
      deque.push(step);
      model.push(step);
    } else if (r < 0.55) {
      deque.unshift(step);
      model.unshift(step);
    } else {
      expect(deque.shift()).toBe(model.shift());
    }
    expect(deque.length).toBe(model.length);
    expect(deque.peek()).toBe(model[0]);
  }
  expect([...deque]).toEqual(model);
  expect(deque.at(3)).toBe(model[3]);
  deque.retain((n) => n % 2 === 0);
  expect([...deque]).toEqual(model.filter((n) => n % 2 === 0));
});

test("a deque never used holds no buffer; the first element brings one, and clear gives it back", () => {
  const deques = Array.from({ length: 3 }, () => new Deque<number>());
  for (const deque of deques) expect([deque.length, deque.peek(), deque.shift(), deque.at(0), [...deque]]).toEqual([0, undefined, undefined, undefined, []]);
  deques[0]!.push(1);
  deques[1]!.unshift(2);
  expect([[...deques[0]!], [...deques[1]!], [...deques[2]!]]).toEqual([[1], [2], []]);
  deques[0]!.clear();
  deques[0]!.unshift(3);
  deques[0]!.push(4);
  expect([...deques[0]!]).toEqual([3, 4]);
  expect([...deques[2]!]).toEqual([]);
});
