import { describe, expect, test } from "bun:test";
import { Commit } from "../../../src/journal/commit.ts";
import { Connection } from "../../../src/server/connection.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import { expiryFromExptime } from "../../../src/server/memcache/execute.ts";
import { memcache } from "../../../src/server/memcache/front_end.ts";
import { bytes } from "../../helpers/bytes.ts";
import { RecordingSocket } from "../../helpers/recording_socket.ts";
import { contextPerTest } from "../../helpers/server_context.ts";
import { nextTurn, steppedTurnClock } from "../../helpers/turn_clock.ts";

const NOW = 1_795_000_000_000;

test("memcache exptime: 0 never, relative below 1,000,000 s, absolute above, negative already expired", () => {
  expect(expiryFromExptime(0, NOW)).toBe(0);
  expect(expiryFromExptime(30, NOW)).toBe(NOW + 30_000);
  expect(expiryFromExptime(999_999, NOW)).toBe(NOW + 999_999_000);
  expect(expiryFromExptime(1_000_000, NOW)).toBe(1_000_000_000);
  expect(expiryFromExptime(1_900_000_000, NOW)).toBe(1_900_000_000_000);
  expect(expiryFromExptime(-1, NOW)).toBeLessThanOrEqual(NOW);
  expect(expiryFromExptime(-1, NOW)).not.toBe(0);
});

describe("reload", () => {
  const context = contextPerTest();
  // Time stands still for the turns' clock: each request runs at once.
  steppedTurnClock(0);

  test("the reply waits for the journals the reload turned on or off to hold their items; requests after it keep their order", async () => {
    for (const [state, reply] of [
      ["durable", "Reloaded config.\r\n"],
      ["failed", "SERVER_ERROR reload applied, but queue 'q': writing its items failed\r\n"],
    ] as const) {
      const switched = new Commit();
      const ctx: ServerContext = { ...context(), reload: () => switched };
      const socket = new RecordingSocket();
      new Connection(socket, ctx, memcache, 0, 1 << 20).onData(bytes("reload\r\nversion\r\n"));
      await nextTurn();
      expect(socket.output).toBe("");
      switched.settle(state, "queue 'q': writing its items failed");
      await nextTurn();
      expect(socket.output).toBe(`${reply}VERSION test\r\n`);
    }
  });

  test("a reload that fails is answered at once", () => {
    const ctx: ServerContext = { ...context(), reload: () => "bad config" };
    const socket = new RecordingSocket();
    new Connection(socket, ctx, memcache, 0, 1 << 20).onData(bytes("reload\r\n"));
    expect(socket.output).toBe("SERVER_ERROR reload failed: bad config\r\n");
  });
});
