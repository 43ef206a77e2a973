/**
 * The idle timeout (`timeout`) closes connections that did nothing for that long, and never one
 * that sends requests (or receives replies) more often: Bun's own socket timer, re-armed at each
 * request, dropped clients sending every 0.2 s with timeout = 3 (after 4 s) and every 4 s with
 * timeout = 6 (at 12 s). The clients here pause between requests on purpose, a little less than
 * the timeout: the pauses are the traffic under test, not a wait for an event.
 */
import { expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { serverForFile } from "../helpers/server.ts";

const TIMEOUT_S = 2;
const server = serverForFile({ config: `timeout = ${TIMEOUT_S}\n` });

/** Sends `count` requests `pauseMs` apart, then one more; every one must be answered (a closed connection throws). */
async function keepBusy(c: TestClient, queue: string, count: number, pauseMs: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    expect(await c.set(queue, String(i))).toBe("STORED");
    expect(await c.get(queue)).toBe(String(i));
    await Bun.sleep(pauseMs);
  }
  expect(await c.call("version")).toMatch(/^VERSION /);
  c.close();
}

test("clients active more often than the timeout stay connected, however long; an idle one is closed", async () => {
  const [often, nearlyIdle, idle] = await Promise.all([server().client(), server().client(), server().client()]);
  // Requests 0.2 s apart over 3 timeouts; and 0.8 of a timeout apart, over 4 timeouts.
  await Promise.all([keepBusy(often, "often", (3 * TIMEOUT_S * 1000) / 200, 200), keepBusy(nearlyIdle, "nearly_idle", 5, 0.8 * TIMEOUT_S * 1000), idle.closed]);
}, 60_000);

test("a client waiting in a blocking get longer than the timeout is not idle", async () => {
  const c = await server().client();
  await c.send(`get late/t=${(TIMEOUT_S + 1) * 1000}\r\n`);
  expect(await c.readLine()).toBe("END");
  expect(await c.call("version")).toMatch(/^VERSION /);
  c.close();
}, 60_000);
