// The client suite's catalogue, its report format and docs/clients.md agree. The suite itself
// (npm run test:clients) installs packages and is not part of npm test.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENTS } from "./catalogue.ts";
import { parseScenarioOutput } from "./run.ts";

const DOC = readFileSync(join(import.meta.dir, "..", "..", "docs", "clients.md"), "utf8");

test("every client in the catalogue has a row in docs/clients.md and a scenario script", () => {
  const table = DOC.slice(DOC.indexOf("## Tested clients"), DOC.indexOf("## What every client needs"));
  const rows = table.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| client"));
  const missing = CLIENTS.filter((client) => !rows.some((row) => row.split("|")[1]!.includes(client.name.replace(/ \(npm\)$/, ""))));
  expect(missing.map((client) => client.name)).toEqual([]);
  expect(CLIENTS.flatMap((client) => client.command.filter((part) => part.includes("/test/clients/") && !existsSync(part)))).toEqual([]);
});

test("a scenario's output becomes a version and one result per check line", () => {
  const output = ["version 3.5.2", "pass order ", "fail gets ValueError: not enough values", "skip noreply the client has none", "Traceback: noise", ""].join("\n");
  expect(parseScenarioOutput(output)).toEqual({
    version: "3.5.2",
    results: [
      { check: "order", outcome: "pass", detail: "" },
      { check: "gets", outcome: "fail", detail: "ValueError: not enough values" },
      { check: "noreply", outcome: "skip", detail: "the client has none" },
    ],
  });
});
