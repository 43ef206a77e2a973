/**
 * KestrelClient against fake servers (test/helpers/fake_kestrel.ts): where operations go, what a
 * misbehaving server makes the client do, and what each operation promises.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ConnectionError, KestrelClient, NoServerError, NotStoredError, RequestError, type KestrelClientOptions } from "../../src/client/index.ts";
import { FakeKestrel } from "../helpers/fake_kestrel.ts";

const fakes: FakeKestrel[] = [];
const clients: KestrelClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const fake of fakes.splice(0)) await fake.stop();
});

async function startFakes(n: number): Promise<FakeKestrel[]> {
  const started = await Promise.all(Array.from({ length: n }, () => FakeKestrel.start()));
  fakes.push(...started);
  return started;
}

/** A client with background status checks out of the way (tests call refreshStatus). */
function client(servers: readonly FakeKestrel[] | readonly string[], options: Partial<KestrelClientOptions> = {}): KestrelClient {
  const list = servers.map((server) => (typeof server === "string" ? server : server.address));
  const made = new KestrelClient({ servers: list, statusIntervalMs: 3_600_000, requestTimeoutMs: 1000, retryForMs: 3000, backoff: { baseMs: 20, maxMs: 100 }, ...options });
  clients.push(made);
  return made;
}

const text = (data: Uint8Array | null | undefined) => (data == null ? null : Buffer.from(data).toString());
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A port nobody listens on (a fake started and stopped). */
async function deadAddress(): Promise<string> {
  const fake = await FakeKestrel.start();
  await fake.stop();
  return fake.address;
}

describe("where puts go", () => {
  test("spread over the up servers; writeavoid ones only when no up one is left; never readonly or quiescent", async () => {
    const [up1, up2, avoid, readonly, quiescent] = await startFakes(5);
    avoid!.status = "writeavoid";
    readonly!.status = "readonly";
    quiescent!.status = "quiescent";
    const c = client(fakes);
    await c.refreshStatus();
    expect(c.servers().map((server) => server.status)).toEqual(["up", "up", "writeavoid", "readonly", "quiescent"]);
    for (const i of range(200)) await c.put("q", `${i}`);
    expect(up1!.items("q").length + up2!.items("q").length).toBe(200);
    expect(up1!.items("q").length).toBeGreaterThan(40);
    expect(up2!.items("q").length).toBeGreaterThan(40);

    up1!.status = up2!.status = "readonly";
    await c.refreshStatus();
    await c.put("q", "avoided");
    expect(avoid!.items("q")).toEqual(["avoided"]);
    expect(readonly!.queues.size + quiescent!.queues.size).toBe(0);
  });

  test("a server that does not know the status command counts as up", async () => {
    const [old] = await startFakes(1);
    old!.knowsStatus = false;
    const c = client(fakes);
    await c.refreshStatus();
    expect(c.servers()[0]).toMatchObject({ status: "up", failures: 0 });
    await c.put("q", "x");
    expect(old!.items("q")).toEqual(["x"]);
  });

  test("a SERVER_ERROR refusal sends the put to another server and marks the refusing one until its status says otherwise", async () => {
    const [a, b] = await startFakes(2);
    const c = client(fakes);
    await c.refreshStatus();
    a!.status = b!.status = "readonly";
    b!.status = "up";
    for (const i of range(30)) await c.put("q", `${i}`);
    expect(b!.items("q")).toEqual(range(30).map(String));
    expect(a!.requests.filter((line) => line.startsWith("set")).length).toBeLessThanOrEqual(1);
    expect(c.servers()[0]!.status).toBe("readonly");
    a!.status = "up";
    await c.refreshStatus();
    expect(c.servers()[0]!.status).toBe("up");
  });

  test("a server that fails before STORED: the put is sent to another one (at-least-once: it may be on both)", async () => {
    const [a, b] = await startFakes(2);
    // random() near 1 leaves the shuffled list in order: the first put goes to a.
    const c = client(fakes, { random: () => 0.99 });
    a!.onSet = "drop-after-store";
    await c.put("q", "once");
    expect([a!.items("q"), b!.items("q")]).toEqual([["once"], ["once"]]);
    expect(c.servers()[0]!.lastError).toMatch(/^kestrel 127\.0\.0\.1:\d+: connection closed by the server$/);

    a!.onSet = "drop-before-store";
    a!.status = "up";
    const d = client(fakes, { random: () => 0.99 });
    await d.put("q", "twice");
    expect([a!.items("q"), b!.items("q")]).toEqual([["once"], ["once", "twice"]]);
  });

  test("a server that never answers times out, and the put goes elsewhere", async () => {
    const [silent, good] = await startFakes(2);
    silent!.onSet = "silent";
    const c = client(fakes, { requestTimeoutMs: 100, random: () => 0.99 });
    await c.put("q", "x");
    expect(good!.items("q")).toEqual(["x"]);
    const view = c.servers().find((server) => server.server === silent!.address)!;
    expect(view.failures).toBe(1);
    expect(view.lastError).toContain("no reply in time");
  });

  test("NOT_STORED on one server tries the next; on every server it is a NotStoredError", async () => {
    const [full, roomy] = await startFakes(2);
    full!.onSet = "not-stored";
    const c = client(fakes);
    for (const i of range(10)) await c.put("q", `${i}`);
    expect(roomy!.items("q")).toHaveLength(10);
    roomy!.onSet = "not-stored";
    await expect(c.put("q", "x")).rejects.toBeInstanceOf(NotStoredError);
  });

  test("with every server down, a put fails with NoServerError once retryForMs has passed, naming the last failure", async () => {
    const c = client([await deadAddress(), await deadAddress()], { retryForMs: 300 });
    const error = await c.put("q", "x").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NoServerError);
    expect((error as Error).message).toMatch(/no server took the put to 'q' within 300 ms; last: kestrel 127\.0\.0\.1:\d+: could not connect/);
    expect((error as Error).cause).toBeInstanceOf(ConnectionError);
  });

  test("a failed server is skipped while in backoff and used again once it is back", async () => {
    const [a] = await startFakes(1);
    const dead = await deadAddress();
    const c = client([a!.address, dead], { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    for (const i of range(50)) await c.put("q", `${i}`);
    expect(a!.items("q")).toHaveLength(50);
    const failed = c.servers().find((server) => server.server === dead)!;
    expect(failed.failures).toBe(1);
    expect(failed.retryAt).toBeGreaterThan(Date.now());
  });

  test("ERROR or CLIENT_ERROR is the caller's mistake: thrown at once, naming the server, not tried elsewhere", async () => {
    const [a, b] = await startFakes(2);
    a!.getReply = b!.getReply = "CLIENT_ERROR bad queue name";
    const c = client(fakes);
    const error = await c.get("q").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).message).toMatch(/^kestrel 127\.0\.0\.1:\d+: request refused: CLIENT_ERROR bad queue name$/);
    expect([...a!.requests, ...b!.requests].filter((line) => line.startsWith("get"))).toHaveLength(1);
    expect(() => c.put("a b", "x")).toThrow(TypeError);
  });

  test("a read refused with SERVER_ERROR goes to another server; the refusing one is taken as quiescent", async () => {
    const [a, b] = await startFakes(2);
    a!.getReply = "SERVER_ERROR reading items back from the journal failed";
    b!.add("q", "here");
    const c = client(fakes, { random: () => 0.99 });
    expect(text(await c.get("q"))).toBe("here");
    expect(c.servers().map((server) => server.status)).toEqual(["quiescent", "up"]);
  });
});

describe("get and open across servers", () => {
  test("an item on any one server is found without waiting", async () => {
    await startFakes(3);
    fakes[2]!.add("q", "only");
    const c = client(fakes);
    expect(text(await c.get("q"))).toBe("only");
    expect(await c.get("q")).toBeNull();
  });

  test("with a timeout, an item that arrives later on any server is found; null only after the whole timeout", async () => {
    await startFakes(3);
    const c = client(fakes, { pollSliceMs: 20 });
    const started = Date.now();
    const waiting = c.get("q", { timeoutMs: 10_000 });
    await Promise.race(fakes.map((fake) => fake.received(/^get q\/t=/)));
    fakes[1]!.add("q", "late");
    expect(text(await waiting)).toBe("late");

    const before = Date.now();
    expect(await c.get("q", { timeoutMs: 300 })).toBeNull();
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("open keeps its connection: close confirms and abort gives back, on the connection that opened the item", async () => {
    const [a] = await startFakes(1);
    a!.add("q", "one");
    a!.add("q", "two");
    const c = client(fakes);
    const first = await c.open("q");
    expect([text(first!.data), first!.server]).toEqual(["one", a!.address]);
    await first!.abort();
    expect(a!.items("q")).toEqual(["one", "two"]);
    const again = await c.open("q");
    expect(text(again!.data)).toBe("one");
    await again!.close();
    await again!.close();
    expect(a!.items("q")).toEqual(["two"]);
    expect(a!.requests.filter((line) => line.startsWith("get"))).toEqual(["get q/open", "get q/abort", "get q/open", "get q/close"]);
  });

  test("an open item whose client goes away goes back to its server", async () => {
    const [a] = await startFakes(1);
    a!.add("q", "kept");
    const c = client(fakes);
    expect(text((await c.open("q"))!.data)).toBe("kept");
    expect(a!.items("q")).toEqual([]);
    await c.close();
    await a!.idle();
    expect(a!.items("q")).toEqual(["kept"]);
  });

  test("get with no server reachable at all is an error, not an empty queue", async () => {
    const c = client([await deadAddress()]);
    await expect(c.get("q", { timeoutMs: 100 })).rejects.toBeInstanceOf(NoServerError);
  });
});

describe("consume", () => {
  test("confirms after the handler, gives back what it threw on, and stops on the signal", async () => {
    await startFakes(2);
    for (const i of range(20)) fakes[i % 2]!.add("q", `${i}`);
    const c = client(fakes, { pollSliceMs: 10 });
    const seen: string[] = [];
    const errors: unknown[] = [];
    const stop = new AbortController();
    let failedOnce = false;
    const done = c.consume(
      "q",
      async (data) => {
        const item = text(data)!;
        if (item === "7" && !failedOnce) {
          failedOnce = true;
          throw new Error("not yet");
        }
        seen.push(item);
        if (new Set(seen).size === 20) stop.abort();
      },
      { concurrency: 3, signal: stop.signal, onError: (error) => errors.push(error) },
    );
    await done;
    expect(seen.sort()).toEqual(range(20).map(String).sort());
    expect(errors.map((error) => (error as Error).message)).toEqual(["not yet"]);
    expect(fakes.flatMap((fake) => fake.items("q"))).toEqual([]);
  });

  test("a signal while waiting for items stops the workers at once", async () => {
    await startFakes(1);
    const c = client(fakes);
    const stop = new AbortController();
    const handled: string[] = [];
    const done = c.consume("q", (data) => void handled.push(text(data)!), { concurrency: 4, signal: stop.signal });
    await fakes[0]!.received(/^get q\/open\/t=/);
    stop.abort();
    await done;
    // Only the shared connection is left: no worker still waits, or would be handed this item.
    await fakes[0]!.idle(1);
    fakes[0]!.add("q", "after");
    expect(text(await c.get("q"))).toBe("after");
    expect(handled).toEqual([]);
  });
});

test("DNS: servers join and leave as the name's records change", async () => {
  const first = await FakeKestrel.start("127.0.0.1");
  const second = await FakeKestrel.start("127.0.0.2", first.port);
  fakes.push(first, second);
  let answer = ["127.0.0.1"];
  const c = new KestrelClient({ dns: "kestrel.test", port: first.port, resolver: async () => answer, statusIntervalMs: 3_600_000 });
  clients.push(c);
  await c.put("q", "to first");
  answer = ["127.0.0.2"];
  await c.refreshServers();
  expect(c.servers().map((server) => server.server)).toEqual([second.address]);
  await c.put("q", "to second");
  expect([first.items("q"), second.items("q")]).toEqual([["to first"], ["to second"]]);
});

test("DNS: a name that can't be resolved is named in the NoServerError of a put and a get, as its cause", async () => {
  const failure = new Error("queryA ENOTFOUND kestrel.nowhere");
  const c = new KestrelClient({ dns: "kestrel.nowhere", resolver: async () => Promise.reject(failure), retryForMs: 50, statusIntervalMs: 3_600_000 });
  clients.push(c);
  for (const attempt of [() => c.put("q", "x"), () => c.get("q")]) {
    const error = await attempt().then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(NoServerError);
    expect((error as Error).message).toContain("ENOTFOUND kestrel.nowhere");
    expect((error as Error).cause).toBeInstanceOf(Error);
  }
});
