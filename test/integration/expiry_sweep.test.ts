/**
 * The expiry sweep runs on schedule however often the config is reloaded: a reload that keeps
 * `expiration_timer_frequency` keeps the sweep's due time (it used to start the interval again
 * from zero, so reloads more often than the frequency meant expired items were never swept).
 */
import { expect, test } from "bun:test";
import { ServerProcess } from "../helpers/server.ts";

/** An absolute exptime (unix seconds) long past: the item is expired as soon as it is stored. */
const LONG_AGO = 1_000_001;

test("reloads more often than expiration_timer_frequency don't hold the sweep off", async () => {
  const server = await ServerProcess.start({ config: 'expiration_timer_frequency = "300ms"\n' });
  const c = await server.client();
  expect(await c.set("q", "stale", LONG_AGO)).toBe("STORED");
  expect((await c.stats()).get("queue_q_items")).toBe("1");
  let reloads = 0;
  // About 40 sweeps' worth of time at the frequency (nothing else touches the queue meanwhile).
  while ((await c.stats()).get("queue_q_items") === "1" && reloads < 400) {
    expect(await c.call("reload")).toBe("Reloaded config.");
    reloads++;
    await Bun.sleep(30);
  }
  const stats = await c.stats();
  expect(stats.get("queue_q_items")).toBe("0");
  expect(stats.get("queue_q_expired_items")).toBe("1");
  c.close();
  expect(await server.stop()).toBe(0);
}, 30_000);
