/**
 * open_transaction_timeout against a real server: the pooled client of issue 11 opens an item on
 * one connection and sends its /close on another, so the first connection's item would stay open
 * for good; with the timeout it comes back to the queue.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ServerProcess } from "../helpers/server.ts";

const CONFIG = `admin_port = 0

[queues.pooled]
open_transaction_timeout = "200ms"

[queues.kept]
open_transaction_timeout = "200ms"

[queues.reopen]
open_transaction_timeout = "200ms"
`;

let server: ServerProcess;
let admin: string;

beforeAll(async () => {
  server = await ServerProcess.start({ config: CONFIG });
  admin = `http://${await server.adminAddress()}`;
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  server.removeData();
});

describe("open_transaction_timeout", () => {
  test("an item left open goes back to the head; the stale holder's close confirms nothing", async () => {
    const a = await server.client();
    const b = await server.client();
    await a.set("pooled", "first");
    expect(await a.get("pooled/open")).toBe("first");
    // B blocks until the item comes back (far longer than the timeout; it returns as soon as it does).
    expect(await b.get("pooled/open/t=10000")).toBe("first");
    await a.set("pooled", "second");

    expect(await a.get("pooled/close")).toBeNull();
    let stats = await a.stats();
    expect([stats.get("queue_pooled_items"), stats.get("queue_pooled_open_transactions")]).toEqual(["1", "1"]);
    expect(stats.get("queue_pooled_open_transactions_timed_out")).toBe("1");
    expect(stats.get("open_transactions_timed_out")).toBe("1");

    expect(await a.get("pooled/open")).toBe("second");
    expect(await b.get("pooled/close")).toBeNull();
    expect(await a.get("pooled/close")).toBeNull();
    stats = await a.stats();
    expect([stats.get("queue_pooled_items"), stats.get("queue_pooled_open_transactions")]).toEqual(["0", "0"]);
    expect(stats.get("queue_pooled_open_transactions_timed_out")).toBe("1");
    expect(await b.get("pooled")).toBeNull();

    const json = (await (await fetch(`${admin}/stats.json`)).json()) as { server: Record<string, unknown>; queues: Record<string, Record<string, unknown>> };
    expect(json.server.open_transactions_timed_out).toBe(1);
    expect(json.queues.pooled!.open_transactions_timed_out).toBe(1);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain('kestrel_queue_open_transactions_timed_out_total{queue="pooled"} 1\n');
    a.close();
    b.close();
  });

  test("the connection whose item timed out holds nothing: it may open again without a close", async () => {
    const a = await server.client();
    const b = await server.client();
    await a.set("reopen", "first");
    expect(await a.get("reopen/open")).toBe("first");
    expect(await b.get("reopen/open/t=10000")).toBe("first");
    await a.set("reopen", "second");
    expect(await a.get("reopen/open")).toBe("second");
    expect(await a.get("reopen/close")).toBeNull();
    expect(await b.get("reopen/close")).toBeNull();
    const stats = await a.stats();
    expect([stats.get("queue_reopen_items"), stats.get("queue_reopen_open_transactions")]).toEqual(["0", "0"]);
    a.close();
    b.close();
  });

  test("a queue without the timeout keeps an open item open", async () => {
    const a = await server.client();
    const b = await server.client();
    await a.set("plain", "held");
    expect(await a.get("plain/open")).toBe("held");
    // Past the other queues' timeout, measured by a wait that ends empty.
    expect(await b.get("plain/open/t=400")).toBeNull();
    expect((await b.stats()).get("queue_plain_open_transactions")).toBe("1");
    expect(await a.get("plain/close")).toBeNull();
    expect((await b.stats()).get("queue_plain_open_transactions")).toBe("0");
    a.close();
    b.close();
  });

  test("an item that timed out stays at the head across a restart, and is not confirmed by its stale holder", async () => {
    const a = await server.client();
    await a.set("kept", "x");
    await a.set("kept", "y");
    const mark = server.output.length;
    expect(await a.get("kept/open")).toBe("x");
    await server.waitForLog(/queue 'kept': 1 open item\(s\) not closed or aborted within 200 ms went back to the head/, mark);
    expect(await a.get("kept/close")).toBeNull();
    a.close();
    await server.kill9();
    server = await server.restart();
    const b = await server.client();
    expect(await b.get("kept")).toBe("x");
    expect(await b.get("kept")).toBe("y");
    expect(await b.get("kept")).toBeNull();
    b.close();
  });
});
