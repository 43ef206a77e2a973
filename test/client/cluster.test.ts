import { describe, expect, test } from "bun:test";
import { Cluster, backoffMs, endpoint, parseEndpoint, refreshFromDns, statusFromRefusal, type Access, type Resolver } from "../../src/client/cluster.ts";
import type { Endpoint } from "../../src/client/connection.ts";
import type { ServerStatus } from "../../src/client/protocol.ts";
import { seededRandom } from "../helpers/bytes.ts";

const BACKOFF = { baseMs: 100, maxMs: 5000 };

/** A cluster whose resources are the endpoints' names; `retired` lists what left. */
function cluster(names: readonly string[], statuses: Record<string, ServerStatus> = {}, random = seededRandom(7)) {
  const retired: string[] = [];
  const made: string[] = [];
  const c = new Cluster<string>({ open: (server: Endpoint) => (made.push(server.name), server.name), retire: (name) => retired.push(name) }, BACKOFF, random);
  c.setServers(names.map((name) => parseEndpoint(name)));
  for (const member of c.list()) member.status = statuses[member.endpoint.name] ?? "up";
  return { c, retired, made };
}

/** How often each server is picked for `access` in `n` picks. */
function tally(c: Cluster<string>, access: Access, n = 3000, now = 0): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = c.pick(access, now)?.resource ?? "none";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe("server selection", () => {
  test("every up server gets a fair share of writes and reads", () => {
    const { c } = cluster(["a:1", "b:1", "c:1"]);
    for (const access of ["write", "read"] as const) {
      const counts = tally(c, access);
      expect([...counts.keys()].sort()).toEqual(["a:1", "b:1", "c:1"]);
      for (const count of counts.values()) expect(count).toBeGreaterThan(800);
    }
  });

  test("writes skip readonly and quiescent servers; reads skip only quiescent ones", () => {
    const { c } = cluster(["a:1", "b:1", "c:1"], { "a:1": "readonly", "b:1": "quiescent" });
    expect([...tally(c, "write").keys()]).toEqual(["c:1"]);
    expect([...tally(c, "read").keys()].sort()).toEqual(["a:1", "c:1"]);
  });

  test("writeavoid servers take writes only when no up server is left; reads as usual", () => {
    const { c } = cluster(["a:1", "b:1", "c:1"], { "a:1": "writeavoid", "b:1": "writeavoid" });
    expect([...tally(c, "write").keys()]).toEqual(["c:1"]);
    expect(tally(c, "read").size).toBe(3);
    c.failed(c.list()[2]!, new Error("down"), 0);
    expect([...tally(c, "write").keys()].sort()).toEqual(["a:1", "b:1"]);
    expect([...tally(c, "write", 100, 60_000).keys()]).toEqual(["c:1"]);
  });

  test("nothing to pick when no server admits the access", () => {
    const { c } = cluster(["a:1", "b:1"], { "a:1": "readonly", "b:1": "quiescent" });
    expect(c.pick("write", 0)).toBeNull();
    expect(c.pick("read", 0)?.resource).toBe("a:1");
  });

  test("excluded servers are left out, and writeavoid ones come in when the up ones are excluded", () => {
    const { c } = cluster(["a:1", "b:1", "c:1"], { "c:1": "writeavoid" });
    expect(c.eligible("write", 0, new Set(["a:1"])).map((member) => member.resource)).toEqual(["b:1"]);
    expect(c.eligible("write", 0, new Set(["a:1", "b:1"])).map((member) => member.resource)).toEqual(["c:1"]);
  });

  test("a SERVER_ERROR refusal sets the status it implies until the next status check", () => {
    const { c } = cluster(["a:1", "b:1"]);
    const [a] = c.list();
    c.refused(a!, "write", "journal write failed");
    expect(a!.status).toBe("readonly");
    expect([...tally(c, "write").keys()]).toEqual(["b:1"]);
    c.learnStatus(a!, "up");
    expect(tally(c, "write").size).toBe(2);
    expect(statusFromRefusal("no reads", "read")).toBe("quiescent");
    expect(statusFromRefusal("server is quiescent", "write")).toBe("quiescent");
    expect(statusFromRefusal("server is read-only", "read")).toBe("readonly");
  });
});

describe("backoff", () => {
  test("doubles with each failure in a row, up to the cap, jittered between half and all of it", () => {
    expect([1, 2, 3, 4].map((failures) => backoffMs(failures, BACKOFF, 0.999999))).toEqual([100, 200, 400, 800].map((ms) => expect.closeTo(ms, 2)));
    expect([1, 2, 3].map((failures) => backoffMs(failures, BACKOFF, 0))).toEqual([50, 100, 200]);
    expect(backoffMs(50, BACKOFF, 0.5)).toBe(3750);
    expect(backoffMs(5000, BACKOFF, 0)).toBe(2500);
  });

  test("a failed server is skipped until its backoff ends, then picked again; failures meanwhile count as one; a success clears them", () => {
    const { c } = cluster(["a:1", "b:1"], {}, () => 0.5);
    const a = c.list()[0]!;
    c.failed(a, new Error("refused"), 1000);
    expect(a.retryAt).toBe(1075);
    expect(c.nextRetryAt(1000)).toBe(1075);
    expect(c.eligible("read", 1074).map((member) => member.resource)).toEqual(["b:1"]);
    expect(c.eligible("read", 1075)).toHaveLength(2);
    c.failed(a, new Error("refused again"), 1074);
    expect([a.failures, a.retryAt, a.lastError?.message]).toEqual([1, 1075, "refused again"]);
    c.failed(a, new Error("refused"), 1075);
    expect(a.retryAt).toBe(1075 + 150);
    c.succeeded(a);
    expect([a.failures, a.retryAt, c.nextRetryAt(1075)]).toEqual([0, 0, null]);
    c.failed(a, new Error("refused"), 2000);
    expect(a.retryAt).toBe(2075);
  });
});

describe("server list and DNS", () => {
  test("addresses: host:port, [v6]:port, a bare host on the default port; bad ones throw", () => {
    expect(parseEndpoint("10.0.0.1:22133")).toEqual({ host: "10.0.0.1", port: 22133, name: "10.0.0.1:22133" });
    expect(parseEndpoint("[::1]:7")).toEqual({ host: "::1", port: 7, name: "[::1]:7" });
    expect(parseEndpoint("kestrel-0.kestrel")).toEqual({ host: "kestrel-0.kestrel", port: 22133, name: "kestrel-0.kestrel:22133" });
    for (const bad of ["a:0", "a:70000", "a:b", "::1:5", ""]) expect(() => parseEndpoint(bad)).toThrow(TypeError);
    expect(endpoint("fd00::5", 9).name).toBe("[fd00::5]:9");
  });

  test("servers join and leave as the name's records change; those that stay keep their state", async () => {
    let answer: readonly string[] = ["10.0.0.1", "10.0.0.2"];
    const resolver: Resolver = async () => answer;
    const { c, retired, made } = cluster([]);
    expect(await refreshFromDns(c, "kestrel", 22133, resolver)).toBeNull();
    expect(c.list().map((member) => member.resource)).toEqual(["10.0.0.1:22133", "10.0.0.2:22133"]);
    const second = c.list()[1]!;
    c.failed(second, new Error("x"), 0);

    answer = ["10.0.0.2", "10.0.0.3", "fd00::4", "10.0.0.3"];
    await refreshFromDns(c, "kestrel", 22133, resolver);
    expect(c.list().map((member) => member.resource)).toEqual(["10.0.0.2:22133", "10.0.0.3:22133", "[fd00::4]:22133"]);
    expect(c.list()[0]).toBe(second);
    expect(second.failures).toBe(1);
    expect(retired).toEqual(["10.0.0.1:22133"]);
    expect(made).toEqual(["10.0.0.1:22133", "10.0.0.2:22133", "10.0.0.3:22133", "[fd00::4]:22133"]);
  });

  test("a failed or empty answer keeps the list as it is", async () => {
    const { c, retired } = cluster(["10.0.0.1:22133"]);
    expect((await refreshFromDns(c, "kestrel", 22133, async () => [])) !== null).toBe(true);
    const failure = await refreshFromDns(c, "kestrel", 22133, async () => {
      throw new Error("ENOTFOUND kestrel");
    });
    expect(failure?.message).toBe("ENOTFOUND kestrel");
    expect(c.list().map((member) => member.resource)).toEqual(["10.0.0.1:22133"]);
    expect(retired).toEqual([]);
  });
});
