import { afterEach, expect, test } from "bun:test";
import { shownQueueConfig } from "../../../src/config/load.ts";
import { configJson } from "../../../src/server/admin/config_json.ts";
import { configFor } from "../../helpers/config.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function contextWith(names: readonly string[]) {
  const { ctx, queues } = serverContext(configFor(tempDir(), `max_items = 7\n[queues.b]\nmax_items = 3\n`));
  closers.push(() => queues.close());
  for (const name of names) queues.getOrCreate(name);
  return ctx;
}

/** The body as it was made in one go, before it was streamed. */
function madeAtOnce(ctx: ReturnType<typeof contextWith>, names: readonly string[]): string {
  const config = ctx.config();
  const queues = Object.fromEntries(names.map((name) => [name, Object.fromEntries(shownQueueConfig(config, name))]));
  return JSON.stringify({ queue_defaults: Object.fromEntries(shownQueueConfig(config, null)), queues });
}

test("the body is a piece per queue, by name, and the same text as made in one go", () => {
  const ctx = contextWith(["c", "b", "a+x", "a"]);
  const pieces = [...configJson(new URL("http://admin/config.json"), ctx)];
  expect(pieces.length).toBe(1 + 4 + 1);
  expect(pieces.join("")).toBe(madeAtOnce(ctx, ["a", "a+x", "b", "c"]));
  expect(JSON.parse(pieces.join("")).queues.b.max_items).toBe("3");
});

test("each piece is made as it is taken: a queue deleted before its piece is left out", () => {
  const ctx = contextWith(Array.from({ length: 50 }, (_, i) => `q${i}`));
  const body = configJson(new URL("http://admin/config.json"), ctx);
  expect(body.next().value).toStartWith('{"queue_defaults":{');
  expect(body.next().value).toStartWith('"q0":{');
  ctx.queues.delete("q9"); // not reached yet
  const rest = [...body].join("");
  expect(rest).not.toContain('"q9"');
  expect(rest).toContain('"q8"');
});

test("?queue= names some queues: those that exist, each once, by name; none at all with an empty name", () => {
  const ctx = contextWith(["a", "b", "c"]);
  const body = (query: string) => [...configJson(new URL(`http://admin/config.json${query}`), ctx)].join("");
  expect(body("?queue=c&queue=nope&queue=a&queue=c")).toBe(madeAtOnce(ctx, ["a", "c"]));
  expect(body("?queue=")).toBe(madeAtOnce(ctx, []));
});
