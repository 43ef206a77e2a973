import { expect, test } from "bun:test";
import { NameOrder } from "../../src/queue/name_order.ts";

const named = (name: string) => ({ name });
const names = (list: ReadonlyArray<{ readonly name: string }>) => list.map((element) => element.name);

test("elements added in any order are listed by name, code unit by code unit; removed ones are gone", () => {
  const order = new NameOrder<{ readonly name: string }>();
  const [m, b, upperZ, z, aPlusB, a, mm, zero, secondB] = [named("m"), named("b"), named("Z"), named("z"), named("a+b"), named("a"), named("mm"), named("0"), named("b")];
  for (const element of [m, b, upperZ, z, aPlusB, a, mm, zero, secondB]) order.add(element);
  expect(names(order.list())).toEqual(["0", "Z", "a", "a+b", "b", "b", "m", "mm", "z"]);
  order.remove(m);
  order.remove(secondB); // the first "b" stays
  order.remove(named("q")); // never added
  order.remove(named("a")); // same name, another element
  expect(order.list()).toEqual([zero, upperZ, a, aPlusB, b, mm, z]);
});

test("a list handed out stays as it was while elements come and go", () => {
  const order = new NameOrder<{ readonly name: string }>();
  const [a, c] = [named("a"), named("c")];
  order.add(a);
  order.add(c);
  const before = order.list();
  expect(order.list()).toBe(before); // nothing changed: the same array, not a copy
  order.add(named("b"));
  order.remove(a);
  expect(names(before)).toEqual(["a", "c"]);
  expect(names(order.list())).toEqual(["b", "c"]);
});

test("a shuffled thousand come out sorted, and in order as half of them go", () => {
  const order = new NameOrder<{ readonly name: string }>();
  const elements = Array.from({ length: 1000 }, (_, i) => named(`q${(i * 7919) % 1000}`));
  for (const element of elements) order.add(element);
  const sorted = names(elements).sort();
  expect(names(order.list())).toEqual(sorted);
  for (const element of elements.filter((_, i) => i % 2 === 0)) order.remove(element);
  expect(names(order.list())).toEqual(names(elements.filter((_, i) => i % 2 === 1)).sort());
});
