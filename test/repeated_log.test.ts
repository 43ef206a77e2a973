import { expect, test } from "bun:test";
import { RepeatedLog } from "../src/repeated_log.ts";

test("a repeated line is written once, then its count once per interval; a quiet key is forgotten", () => {
  const lines: string[] = [];
  const repeated = new RepeatedLog((line) => lines.push(line), 60_000);
  for (let i = 0; i < 1000; i++) repeated.note("q>dead:full", `item ${i} dropped`);
  repeated.note("other", "other line");
  expect(lines).toEqual(["item 0 dropped", "other line"]);
  repeated.report();
  expect(lines.slice(2)).toEqual(["item 999 dropped (and 998 more like it since the last such line)"]);
  repeated.report(); // nothing more happened: both keys are forgotten
  expect(lines.length).toBe(3);
  repeated.note("q>dead:full", "item 1000 dropped");
  expect(lines.at(-1)).toBe("item 1000 dropped");
  repeated.report();
  repeated.report();
});

test("a single repeat is written as it is, without a count of none", () => {
  const lines: string[] = [];
  const repeated = new RepeatedLog((line) => lines.push(line), 60_000);
  repeated.note("k", "first");
  repeated.note("k", "second");
  repeated.report();
  expect(lines).toEqual(["first", "second"]);
});

test("with a burst, that many lines of a key are written each interval before the rest are counted", () => {
  const lines: string[] = [];
  const repeated = new RepeatedLog((line) => lines.push(line), 60_000, 3);
  for (let i = 0; i < 10; i++) repeated.note("rebuilt", `queue q${i} rebuilt`);
  expect(lines).toEqual(["queue q0 rebuilt", "queue q1 rebuilt", "queue q2 rebuilt"]);
  repeated.report();
  expect(lines.at(-1)).toBe("queue q9 rebuilt (and 6 more like it since the last such line)");
  repeated.note("rebuilt", "queue q10 rebuilt");
  expect(lines.at(-1)).toBe("queue q10 rebuilt");
  repeated.report();
  repeated.report();
});
