import { expect, spyOn, test } from "bun:test";
import { log } from "../../src/log.ts";
import { closeIdleConnections, type IdleCheckable } from "../../src/server/idle_check.ts";

/** A connection whose check records the time it was given, and says it closed. */
function connection(peer: string, checked: Array<[string, number]>): IdleCheckable {
  return {
    peer,
    closeIfIdle: (now) => checked.push([peer, now]) > 0,
  };
}

test("every connection is checked at the check's time", () => {
  const checked: Array<[string, number]> = [];
  closeIdleConnections([connection("a", checked), connection("b", checked)], 250);
  expect(checked).toEqual([
    ["a", 250],
    ["b", 250],
  ]);
});

test("a connection whose check throws (a bug) is logged once; the ones after it are checked", () => {
  const logged = spyOn(log, "error").mockImplementation(() => {});
  try {
    const checked: Array<[string, number]> = [];
    const buggy: IdleCheckable = {
      peer: "buggy",
      closeIfIdle: () => {
        throw new Error("a bug in an idle check");
      },
    };
    closeIdleConnections([connection("a", checked), buggy, connection("b", checked)], 500);
    expect(checked).toEqual([
      ["a", 500],
      ["b", 500],
    ]);
    expect(logged.mock.calls.map((call) => String(call[0]))).toEqual(["internal error checking a connection for idleness: a bug in an idle check"]);
  } finally {
    logged.mockRestore();
  }
});
