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

  test("read-only paths take GET only: every other method is a 405 naming GET, and changes nothing", async () => {
    const before = await (await fetch(`${admin}/stats.json`)).json();
    const paths = ["/health", "/stats.json", "/metrics", "/", "/history.json", "/config.json", "/dashboard/app.js", "/shutdown", "/reload", "/flush_all", "/queues"];
    for (const path of paths) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
        const response = await fetch(`${admin}${path}?queue=jobs`, { method, body: method === "HEAD" || method === "OPTIONS" ? undefined : "flush_all" });
        expect(response.status).toBe(405);
        expect(response.headers.get("allow")).toBe("GET");
      }
    }
    // A queue's paths take DELETE alone (admin_actions.test.ts), and nothing else changes anything either.
    for (const path of ["/queues/jobs", "/queues/jobs/items"]) {
      for (const method of ["POST", "PUT", "PATCH", "HEAD", "OPTIONS"]) {
        const response = await fetch(`${admin}${path}`, { method, body: method === "HEAD" || method === "OPTIONS" ? undefined : "x" });
        expect([response.status, response.headers.get("allow")]).toEqual([405, "DELETE"]);
      }
    }
    const after = (await (await fetch(`${admin}/stats.json?flush=jobs`)).json()) as { server: Record<string, unknown>; queues: unknown };
    // `age` grows by itself while nothing is taken (as Kestrel 2's does): everything else must be as it was.
    const withoutAge = (stats: unknown) => Object.entries((stats as { queues: Record<string, object> }).queues).map(([name, queue]) => [name, { ...queue, age: 0 }]);
    expect(withoutAge(after)).toEqual(withoutAge(before));
    expect(await c.get("jobs/peek")).toBe("b");
  });

  test("/config.json has the queue defaults and each queue's settings, as dump_config shows them", async () => {
    const all = (await (await fetch(`${admin}/config.json`)).json()) as { queue_defaults: Record<string, string>; queues: Record<string, Record<string, string>> };
    expect(all.queue_defaults).toMatchObject({ sync_journal: "never", max_items: "unlimited", max_memory_size: "134217728" });
    expect(Object.keys(all.queues)).toEqual(["jobs", "jobs+audit"]);
    expect(all.queues.jobs).toEqual(all.queue_defaults);
    const one = (await (await fetch(`${admin}/config.json?queue=jobs&queue=nope`)).json()) as { queues: Record<string, unknown> };
    expect(Object.keys(one.queues)).toEqual(["jobs"]);
    const none = (await (await fetch(`${admin}/config.json?queue=`)).json()) as { queues: Record<string, unknown> };
    expect(none.queues).toEqual({});
  });

  test("/history.json: a sample a second of the server and each queue; ?after= gives only newer samples", async () => {
    type History = { first: number; last: number; times: number[]; server: Record<string, number[]>; queues: Record<string, Record<string, Array<number | null>>> };
    const history = async (query = "") => (await (await fetch(`${admin}/history.json${query}`)).json()) as History;
    let all = await history();
    for (const deadline = Date.now() + 20_000; all.last < 1 && Date.now() < deadline; all = await history()) await Bun.sleep(100);
    expect(all).toMatchObject({ interval_ms: 1000, samples: 900, tracked_queues: 100, first: 0 });
    expect(all.times).toHaveLength(all.last + 1);
    expect(all.server.items!.at(-1)).toBe(2);
    expect(Object.keys(all.queues).sort()).toEqual(["jobs", "jobs+audit"]);
    expect(all.queues.jobs!.items!.at(-1)).toBe(1);
    const newer = await history(`?after=${all.last}`);
    expect(newer.first).toBe(all.last + 1);
    expect(newer.times).toHaveLength(newer.last - all.last);
    expect((await fetch(`${admin}/history.json?after=soon`)).status).toBe(400);
  });
});

describe("the dashboard", () => {
  test("/ is the page; every script, style sheet and module it loads is served, with a policy that allows nothing else", async () => {
    const page = await fetch(`${admin}/`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const loaded = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((match) => match[1]!);
    expect(loaded).toEqual(["/dashboard/dashboard.css", "/dashboard/app.js"]);
    // Follow the module imports from app.js: each one must be served as JavaScript.
    const seen = new Set<string>();
    const pending = [...loaded];
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const response = await fetch(`${admin}${path}`);
      expect([path, response.status]).toEqual([path, 200]);
      expect(response.headers.get("content-type")).toBe(path.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
      const body = await response.text();
      for (const match of body.matchAll(/^import .* from "\.\/([^"]+)";$/gm)) pending.push(`/dashboard/${match[1]}`);
    }
    expect([...seen].sort()).toEqual(["/dashboard/actions.js", "/dashboard/app.js", "/dashboard/charts.js", "/dashboard/dashboard.css", "/dashboard/format.js", "/dashboard/table.js"]);
    expect((await fetch(`${admin}/dashboard/nope.js`)).status).toBe(404);
    expect((await fetch(`${admin}/dashboard/../../../etc/passwd`)).status).toBe(404);
  });
});
