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
