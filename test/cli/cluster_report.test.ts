import { describe, expect, test } from "bun:test";
import { clusterJson, clusterTable, type ServerReport } from "../../src/cli/cluster_report.ts";

const REPORTS: ServerReport[] = [
  {
    server: "10.0.0.1:22133",
    status: "up",
    error: null,
    queues: new Map([
      ["jobs", { items: 1200, open_transactions: 3, age: 45 }],
      ["mail", { items: 0, open_transactions: 0, age: 0 }],
    ]),
  },
  { server: "10.0.0.22:22133", status: "readonly", error: null, queues: new Map() },
  { server: "10.0.0.3:22133", status: null, error: "could not connect: connect ECONNREFUSED 10.0.0.3:22133", queues: null },
];

describe("clusterTable", () => {
  test("a row per queue, one for a server with none and one for an unreachable server; numbers aligned right; a total", () => {
    expect(clusterTable(REPORTS)).toBe(
      [
        "SERVER           STATUS       QUEUE  ITEMS  OPEN  AGE_MS",
        "10.0.0.1:22133   up           jobs    1200     3      45",
        "10.0.0.1:22133   up           mail       0     0       0",
        "10.0.0.22:22133  readonly     -          0     0       -",
        "10.0.0.3:22133   unreachable  -          -     -       -",
        "total: 3 servers, 1 unreachable; 1200 items, 3 open",
        "",
      ].join("\n"),
    );
  });

  test("one server, all answering", () => {
    expect(clusterTable([REPORTS[1]!]).split("\n").at(-2)).toBe("total: 1 server; 0 items, 0 open");
  });
});

describe("clusterJson", () => {
  test("servers in order, queues by name, totals over the servers that answered", () => {
    expect(clusterJson(REPORTS)).toEqual({
      servers: [
        { server: "10.0.0.1:22133", status: "up", error: null, queues: { jobs: { items: 1200, open_transactions: 3, age: 45 }, mail: { items: 0, open_transactions: 0, age: 0 } } },
        { server: "10.0.0.22:22133", status: "readonly", error: null, queues: {} },
        { server: "10.0.0.3:22133", status: null, error: "could not connect: connect ECONNREFUSED 10.0.0.3:22133", queues: null },
      ],
      items: 1200,
      open_transactions: 3,
      unreachable: 1,
    });
  });
});
