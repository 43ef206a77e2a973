/**
 * A server whose wall clock jumps (test/helpers/wall_clock_preload.ts shifts its `Date.now()`; the
 * machine's clock is not touched): blocking-get timeouts run on the monotonic clock, so a jump
 * neither stretches nor cuts them; `age` never goes negative.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const HOUR_MS = 3_600_000;

/** Waits until `queue` has `count` blocked readers. */
async function waitersOn(c: TestClient, queue: string, count: number): Promise<void> {
  while ((await c.stats()).get(`queue_${queue}_waiters`) !== String(count));
}

test("a wall clock set back or forward neither stretches nor cuts a blocking get; age stays >= 0", async () => {
  const server = await ServerProcess.start({ wallClockFile: join(tempDir(), "offset") });
  const [admin, stretched, long, short] = await Promise.all([server.client(), server.client(), server.client(), server.client()]);

  expect(await admin.set("aged", "a")).toBe("STORED");
  expect(await admin.set("aged", "b")).toBe("STORED");
  await server.setWallClockOffset(-HOUR_MS);
  expect(await admin.get("aged")).toBe("a");
  expect(Number((await admin.stats()).get("queue_aged_age"))).toBeGreaterThanOrEqual(0);

  // Set back while a get waits: it still ends after its 300 ms, not an hour later.
  await stretched.send("get back/t=300\r\n");
  await waitersOn(admin, "back", 1);
  await server.setWallClockOffset(-2 * HOUR_MS);
  expect(await stretched.readValue()).toBeNull();

  // Set forward while two gets wait: the short one's deadline passing doesn't end the long one.
  await long.send("get ahead/t=60000\r\n");
  await short.send("get other/t=100\r\n");
  await waitersOn(admin, "ahead", 1);
  await waitersOn(admin, "other", 1);
  await server.setWallClockOffset(HOUR_MS);
  expect(await short.readValue()).toBeNull();
  expect((await admin.stats()).get("queue_ahead_waiters")).toBe("1");
  expect(await admin.set("ahead", "late")).toBe("STORED");
  expect(Buffer.from((await long.readValue())!.data).toString()).toBe("late");

  for (const c of [admin, stretched, long, short]) c.close();
  expect(await server.stop()).toBe(0);
});
