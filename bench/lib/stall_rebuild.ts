/**
 * The stall benchmark's scenario 12: queue_path deleted (rm -rf) under a server holding
 * BENCH_REBUILD_QUEUES queues of BENCH_REBUILD_ITEMS small items each. The journal upkeep
 * notices each queue's files gone (an idle queue is looked at once in ten rounds, so over about
 * ten seconds) and rebuilds its journal from the queue (src/journal/journal_rebuild.ts). The
 * probe runs from 1 s before the delete until every journal is back (each queue's active file is
 * there and no pack waits to be installed; the data dir is polled every 100 ms) plus 1 s; the
 * figure is how long that took. Then every queue must still hold its items, and again after a
 * restart (the rebuilt journals replay to them). The ERROR lines saying files were deleted are
 * expected: they are listed with the WARN lines.
 */
import { readdirSync, rmSync } from "node:fs";
import { exchange } from "./client.ts";
import { integer } from "./report.ts";
import { type Scene, playScene } from "./stall_scene.ts";
import type { Scenario, StallSettings } from "./stall_scenarios.ts";

const POLL_MS = 100;
const UNTIL_REBUILT_MS = 120_000;
/** The probe's quiet lead before the delete, and its tail after the last journal is back. */
const LEAD_MS = 1000;
const TAIL_MS = 1000;

/** What the server logs as ERROR when its files are deleted under it. */
const EXPECTED_ERRORS = /was removed under the running server|was deleted or replaced; rebuilding the journal/;

const queueName = (index: number): string => `r${String(index).padStart(5, "0")}`;

/** Sets `items` items of the scene's size to each of `names`, pipelined on one connection. */
async function fillQueues(scene: Scene, names: readonly string[], items: number): Promise<void> {
  const data = "x".repeat(scene.settings.itemSize);
  const request = names.flatMap((name) => Array.from({ length: items }, () => `set ${name} 0 0 ${data.length}\r\n${data}\r\n`)).join("");
  const expected = names.length * items;
  const stored = (text: string) => text.split("STORED\r\n").length - 1;
  const reply = await exchange(scene.port, request, (text) => stored(text) >= expected || /ERROR/.test(text));
  if (stored(reply) !== expected) throw new Error(`filling the queues: ${reply.trim().slice(-200)}`);
}

/** How many of `names` have their active journal file in `dir`, and whether a pack still waits there to be installed. */
function journalsBack(dir: string, names: ReadonlySet<string>): { active: number; packs: number } {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return { active: 0, packs: 0 };
  }
  return { active: entries.filter((entry) => names.has(entry)).length, packs: entries.filter((entry) => entry.endsWith(".pack")).length };
}

/** Polls the data dir until every queue's journal is back; returns how long after `since` (performance.now()) that was, or NaN and a problem. */
async function untilRebuilt(scene: Scene, names: ReadonlySet<string>, since: number): Promise<number> {
  const deadline = since + UNTIL_REBUILT_MS;
  let back = { active: 0, packs: 0 };
  while (performance.now() < deadline) {
    back = journalsBack(scene.dataDir, names);
    if (back.active === names.size && back.packs === 0) return performance.now() - since;
    await Bun.sleep(POLL_MS);
  }
  scene.problems.push(`${integer(back.active)} of ${integer(names.size)} journals back (${back.packs} packs pending) after ${UNTIL_REBUILT_MS / 1000} s`);
  return NaN;
}

/** A problem for each queue not holding `items` items (at most a few named). */
async function expectItems(scene: Scene, names: readonly string[], items: number, when: string): Promise<void> {
  const stats = await scene.stats();
  const wrong = names.filter((name) => stats.get(`queue_${name}_items`) !== items);
  if (wrong.length > 0) scene.problems.push(`${when}: ${integer(wrong.length)} queues do not hold ${items} items (${wrong.slice(0, 3).join(", ")}, ...)`);
}

export const dataDirDeleted: Scenario = {
  id: 12,
  run: async (s: StallSettings) => {
    const names = Array.from({ length: s.rebuildQueues }, (_, i) => queueName(i));
    const what = `${integer(s.rebuildQueues)} queues × ${s.rebuildItems} items`;
    return [
      await playScene("12", `queue_path deleted under ${what}`, "", s, async (scene) => {
        scene.expectedErrors.push(EXPECTED_ERRORS);
        await fillQueues(scene, names, s.rebuildItems);
        await Bun.sleep(LEAD_MS);
        const { ping, value } = await scene.probe(async () => {
          await Bun.sleep(LEAD_MS);
          const deleted = performance.now();
          rmSync(scene.dataDir, { recursive: true, force: true });
          const ms = await untilRebuilt(scene, new Set(names), deleted);
          await Bun.sleep(TAIL_MS);
          return ms;
        });
        await expectItems(scene, names, s.rebuildItems, "after the rebuild");
        await scene.restart();
        await expectItems(scene, names, s.rebuildItems, "after a restart");
        return {
          done: `\`rm -rf\` of queue_path under ${what} of ${s.itemSize} B; probe 1 s before to 1 s after every journal is back`,
          ping,
          figure: `every journal back ${(value / 1000).toFixed(2)} s after the delete (polled every ${POLL_MS / 1000} s)`,
        };
      }),
    ];
  },
};
