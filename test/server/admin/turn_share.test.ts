import { describe, expect, spyOn, test } from "bun:test";
import { inTurnShare } from "../../../src/server/admin/turn_share.ts";
import { log } from "../../../src/log.ts";

describe("inTurnShare", () => {
  test("work that throws (a bug) is logged and the work queued after it still runs", async () => {
    const logged = spyOn(log, "error").mockImplementation(() => {});
    try {
      const ran: string[] = [];
      inTurnShare(() => {
        throw new Error("a bug in one piece of work");
      });
      inTurnShare(() => ran.push("same round"));
      await new Promise<void>((resolve) => inTurnShare(resolve));
      expect(ran).toEqual(["same round"]);
      expect(logged.mock.calls.map((call) => String(call[0]))).toEqual([expect.stringContaining("a bug in one piece of work")]);
    } finally {
      logged.mockRestore();
    }
  });
});
