import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestClient } from "../helpers/client.ts";
import { ServerProcess } from "../helpers/server.ts";

let server: ServerProcess;
let c: TestClient;
let admin: string;

beforeAll(async () => {
  server = await ServerProcess.start({ config: "admin_port = 0\n" });
  admin = (await server.waitForLog(/admin HTTP on (http:\/\/[^ ]+)/))[1]!;
  c = await server.client();
  await c.set("jobs", "a");
  await c.set("jobs", "b");
  await c.set("jobs+audit", "c");
  expect(await c.get("jobs")).toBe("a");
});

afterAll(async () => {
  c.close();
  expect(await server.stop()).toBe(0);
  server.removeData();
});

describe("admin HTTP", () => {
  test("/health says ok", async () => {
    const response = await fetch(`${admin}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", server_status: "up", queues: 2, failing: [] });
  });

  test("/stats.json has the server and per-queue stats", async () => {
    const stats = (await (await fetch(`${admin}/stats.json`)).json()) as {
      server: Record<string, number | string>;
      queues: Record<string, Record<string, number | null>>;
    };
    expect(stats.server.cmd_set).toBe(3);
    expect(stats.server.curr_items).toBe(2);
    expect(stats.queues.jobs).toMatchObject({ items: 1, bytes: 1, total_items: 2, open_transactions: 0, journal_failure: null });
    expect(stats.queues["jobs+audit"]!.items).toBe(1);
  });

  test("/metrics is the Prometheus text format with per-queue labels", async () => {
    const response = await fetch(`${admin}/metrics`);
    expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await response.text();
    expect(text).toContain("# TYPE kestrel_queue_items gauge\n");
    expect(text).toContain('kestrel_queue_items{queue="jobs"} 1\n');
    expect(text).toContain('kestrel_queue_items{queue="jobs+audit"} 1\n');
    expect(text).toContain('kestrel_commands_total{command="set"} 3\n');
    expect(text).toMatch(/^kestrel_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    // Every sample line is `name{labels} value` or `name value`; every family has HELP and TYPE.
    for (const line of text.trimEnd().split("\n")) {
      expect(line).toMatch(/^(# (HELP|TYPE) kestrel_\w+ .+|kestrel_\w+(\{[a-z]+="[^"]*"\})? -?\d+(\.\d+)?)$/);
    }
  });

  test("anything else is a 404 or 405", async () => {
    expect((await fetch(`${admin}/nope`)).status).toBe(404);
    expect((await fetch(`${admin}/health`, { method: "POST" })).status).toBe(405);
  });

  test("it is read-only: every other method on every path is a 405 naming GET, and changes nothing", async () => {
    const before = await (await fetch(`${admin}/stats.json`)).json();
    for (const path of ["/health", "/stats.json", "/metrics", "/", "/shutdown", "/reload", "/flush_all", "/queues/jobs"]) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
        const response = await fetch(`${admin}${path}?queue=jobs`, { method, body: method === "HEAD" || method === "OPTIONS" ? undefined : "flush_all" });
        expect(response.status).toBe(405);
        expect(response.headers.get("allow")).toBe("GET");
      }
    }
    const after = (await (await fetch(`${admin}/stats.json?flush=jobs`)).json()) as { server: Record<string, unknown>; queues: unknown };
    // `age` grows by itself while nothing is taken (as Kestrel 2's does): everything else must be as it was.
    const withoutAge = (stats: unknown) => Object.entries((stats as { queues: Record<string, object> }).queues).map(([name, queue]) => [name, { ...queue, age: 0 }]);
    expect(withoutAge(after)).toEqual(withoutAge(before));
    expect(await c.get("jobs/peek")).toBe("b");
  });
});
