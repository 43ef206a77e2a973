import { expect, spyOn, test } from "bun:test";
import { runGuardedWith } from "../src/guarded.ts";
import { log } from "../src/log.ts";

const buggy = (): void => {
  throw new Error("a bug");
};

test("runGuardedWith: a run that throws is logged once and its mend gets the argument and the reason; a bug in the mend is logged too, and goes no further", () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const mended: Array<[string, string]> = [];
    runGuardedWith("running a piece", buggy, "piece", (arg, reason) => void mended.push([arg, reason]));
    expect(mended).toEqual([["piece", "a bug"]]);
    runGuardedWith("running a piece", buggy, "piece", () => {
      throw new Error("a bug in the mend");
    });
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual([
      "internal error running a piece: a bug",
      "internal error running a piece: a bug",
      "internal error running a piece (mending after it): a bug in the mend",
    ]);
  } finally {
    logged.mockRestore();
  }
});

test("runGuardedWith: a run that works is not mended", () => {
  const mended: string[] = [];
  const ran: string[] = [];
  runGuardedWith("running a piece", (arg: string) => void ran.push(arg), "piece", (arg) => void mended.push(arg));
  expect([ran, mended]).toEqual([["piece"], []]);
});
