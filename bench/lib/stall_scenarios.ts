/**
 * The stall benchmark's scenarios: each plays on a fresh server (bench/lib/stall_scene.ts), brings
 * it to the state named, probes it with the 5 ms ping while the event under test happens, and
 * returns one row per measured event.
 *
 * Heavy load (fills, set floods, drains, the 64 MiB set) always comes from a load process, never
 * from this one, which only keeps the probe's beat and reads stats. Every scenario checks what it
 * can of the server's state afterwards (item counts, children fed, queue emptied); a check that
 * fails, or a scenario that throws, is a problem of its row, and the next scenario still runs.
 */
import { exchange } from "./client.ts";
import type { PingFigures } from "./ping.ts";
import { MiB, integer, mib } from "./report.ts";
import { reloadByCommand } from "./server_control.ts";
import { describeReplay } from "./server_log.ts";
import { blockedCrowds } from "./stall_crowds.ts";
import { dataDirDeleted } from "./stall_rebuild.ts";
import { type Scene, type SceneSettings, type StallRow, playScene } from "./stall_scene.ts";

export interface StallSettings extends SceneSettings {
  /** Items queued in scenarios 1-3, 7-9 and 11. */
  readonly items: number;
  /** Items replayed in scenario 6. */
  readonly replayItems: number;
  /** How long the probe watches an idle server or a timed load. */
  readonly seconds: number;
  /** The one big set of scenario 4, bytes. */
  readonly bigItemBytes: number;
  readonly bigChildren: number;
  /** Scenario 5: fanout children and sets to their parent. */
  readonly wideChildren: number;
  readonly wideSets: number;
  /** Scenario 10: clients blocked on one queue. */
  readonly blockedClients: number;
  /** Scenario 12: queues, and items in each, when queue_path is deleted. */
  readonly rebuildQueues: number;
  readonly rebuildItems: number;
}

/** Fill speed seen so far (sets/s), to time the expiry of scenario 3's items. */
export interface Pace {
  setsPerSecond: number;
}

export interface Scenario {
  readonly id: number;
  run(settings: StallSettings, pace: Pace): Promise<StallRow[]>;
}

const QUEUE = "q";
const IN_MEMORY = 'max_memory_size = "1GiB"\n';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const rate = (count: number, ms: number): string => `${integer((count * 1000) / ms)}/s`;
const queued = (s: StallSettings, count: number) => `${integer(count)} × ${s.itemSize} B`;

/** Fills the queue and records the fill's speed in `pace`. */
async function fill(scene: Scene, pace: Pace, count: number, exptime = 0): Promise<void> {
  const result = await scene.fill(QUEUE, count, exptime);
  pace.setsPerSecond = (result.items * 1000) / result.ms;
}

const upkeep: Scenario = {
  id: 1,
  run: async (s, pace) => [
    await playScene("1", "journal upkeep, idle server", IN_MEMORY, s, async (scene) => {
      await fill(scene, pace, s.items);
      await Bun.sleep(1000);
      const { ping } = await scene.probe(() => Bun.sleep(s.seconds * 1000));
      const memItems = await scene.expectStat(`queue_${QUEUE}_mem_items`, s.items);
      return { done: `idle ${s.seconds} s, ${queued(s, s.items)} queued in memory`, ping, figure: `mem_items ${integer(memItems)}, RSS ${mib(scene.kestrel.memory().rss)}` };
    }),
  ],
};

const setsUnderLoad: Scenario = {
  id: 2,
  run: async (s, pace) => [
    await playScene("2", "sets under load (memory pacer)", IN_MEMORY, s, async (scene) => {
      await fill(scene, pace, s.items);
      const before = (await scene.stats()).get("memory_collections") ?? NaN;
      const flood = { queue: QUEUE, itemSize: s.itemSize, exptime: 0, connections: s.connections, batch: s.batch, count: null, seconds: s.seconds };
      const { ping, value } = await scene.probe(() => scene.sets(flood));
      const collections = ((await scene.stats()).get("memory_collections") ?? NaN) - before;
      await scene.expectStat(`queue_${QUEUE}_items`, s.items + value.items);
      return {
        done: `${s.connections} connections × ${s.batch} pipelined sets for ${s.seconds} s onto ${queued(s, s.items)}`,
        ping,
        figure: `${rate(value.items, value.ms)} sets, ${integer(collections)} memory collections`,
      };
    }),
  ],
};

/** An absolute expiry (unix seconds) safely after a fill of `count` at the pace seen so far. */
function expiryAfterFill(pace: Pace, count: number): number {
  const fillMs = (count * 1000) / pace.setsPerSecond;
  return Math.ceil((Date.now() + 1.5 * fillMs + 3000) / 1000);
}

/** Fills `q` with items that all expire at one second, then probes from just before it until the sweep has emptied `q`. */
async function sweep(scene: Scene, s: StallSettings, pace: Pace): Promise<{ ping: PingFigures; sweptMs: number }> {
  const expiry = expiryAfterFill(pace, s.items);
  await fill(scene, pace, s.items, expiry);
  if (Date.now() >= expiry * 1000) scene.problems.push("the fill ended after the items' expiry time: they did not all expire at once");
  await Bun.sleep(Math.max(0, expiry * 1000 - 500 - Date.now()));
  const { ping, value } = await scene.probe(async () => {
    const empty = await scene.waitForZero(`queue_${QUEUE}_items`, 120_000);
    await Bun.sleep(1000);
    return empty;
  });
  await scene.expectStat(`queue_${QUEUE}_expired_items`, s.items);
  return { ping, sweptMs: value - expiry * 1000 };
}

const SWEEP_CONFIG = `expiration_timer_frequency = "1s"\n${IN_MEMORY}`;

const expirySweep: Scenario = {
  id: 3,
  run: async (s, pace) => [
    await playScene("3a", "expiry sweep, expired items dropped", SWEEP_CONFIG, s, async (scene) => {
      const { ping, sweptMs } = await sweep(scene, s, pace);
      return { done: `${queued(s, s.items)} expire at the same second (timer every 1 s)`, ping, figure: `queue empty ${seconds(sweptMs)} after the expiry time (polled every 0.1 s)` };
    }),
    await playScene("3b", "expiry sweep, move_expired_to a full queue", `${SWEEP_CONFIG}[queues.${QUEUE}]\nmove_expired_to = "full"\n[queues.full]\nmax_items = 1\n`, s, async (scene) => {
      await scene.fill("full", 1);
      const { ping, sweptMs } = await sweep(scene, s, pace);
      await scene.expectStat("queue_full_items", 1);
      await scene.stop(); // every line it logged read
      const warnings = scene.kestrel.log.warnings;
      return {
        done: `the same, each expired item refused by \`full\` (max_items = 1)`,
        ping,
        figure: `${integer(warnings)} WARN lines logged for ${integer(s.items)} refused items; queue empty ${seconds(sweptMs)} after the expiry time`,
      };
    }),
  ],
};

const bigFanout: Scenario = {
  id: 4,
  run: async (s) => {
    const children = Array.from({ length: s.bigChildren }, (_, i) => `parent+c${i}`);
    const size = mib(s.bigItemBytes);
    return [
      await playScene("4", `one ${size} set, ${s.bigChildren} fanout children`, `max_request_size = ${s.bigItemBytes}\nmax_item_size = ${s.bigItemBytes}\n`, s, async (scene) => {
        await scene.createQueues(children);
        const big = { queue: "parent", itemSize: s.bigItemBytes, exptime: 0, connections: 1, batch: 1, count: 1, seconds: 0 };
        const { ping, value } = await scene.probe(async () => {
          await Bun.sleep(500);
          const result = await scene.sets(big);
          await Bun.sleep(2000);
          return result;
        });
        for (const name of ["parent", ...children]) await scene.expectStat(`queue_${name}_items`, 1);
        return { done: `one set of ${size} to \`parent\`, copied to ${s.bigChildren} children; probe 0.5 s before to 2 s after`, ping, figure: `STORED after ${seconds(value.ms)}` };
      }),
    ];
  },
};

const wideFanout: Scenario = {
  id: 5,
  run: async (s) => {
    const children = Array.from({ length: s.wideChildren }, (_, i) => `parent+c${i}`);
    return [
      await playScene("5", `${integer(s.wideSets)} sets, ${s.wideChildren} fanout children`, "", s, async (scene) => {
        await scene.createQueues(children);
        const sets = { queue: "parent", itemSize: s.itemSize, exptime: 0, connections: s.connections, batch: s.batch, count: s.wideSets, seconds: 0 };
        const { ping, value } = await scene.probe(() => scene.sets(sets));
        const stats = await scene.stats();
        const fed = children.filter((name) => stats.get(`queue_${name}_items`) === s.wideSets).length;
        if (fed !== children.length) scene.problems.push(`${children.length - fed} of ${children.length} children do not hold ${integer(s.wideSets)} items`);
        return {
          done: `${integer(s.wideSets)} sets of ${s.itemSize} B to \`parent\` (${s.connections} connections × ${s.batch} pipelined)`,
          ping,
          figure: `all stored in ${seconds(value.ms)} (${rate(value.items, value.ms)})`,
        };
      }),
    ];
  },
};

const replay: Scenario = {
  id: 6,
  run: async (s, pace) => [
    await playScene("6", "replay at start", "", s, async (scene) => {
      await fill(scene, pace, s.replayItems);
      const stopMs = await scene.restart();
      const startup = scene.kestrel.startup;
      const { ping } = await scene.probe(() => Bun.sleep(2000));
      await scene.expectStat(`queue_${QUEUE}_items`, s.replayItems);
      const raw = scene.readDataDir();
      const replayed = startup.replay === null ? "no replay line logged" : `replay: ${describeReplay(startup.replay)}`;
      return {
        done: `restart on ${queued(s, s.replayItems)} (SIGTERM took ${seconds(stopMs)}); probe for 2 s once listening`,
        ping,
        figure: `port closed ${seconds(startup.listeningMs)} (spawn → listening); ${replayed}; raw read of the ${mib(raw.bytes)} on disk: ${integer((raw.bytes / MiB / raw.ms) * 1000)} MiB/s`,
      };
    }),
  ],
};

const reloadMemory: Scenario = {
  id: 7,
  run: async (s, pace) => [
    await playScene("7", "max_memory_size raised by reload", 'max_memory_size = "16MiB"\n', s, async (scene) => {
      await fill(scene, pace, s.items);
      const before = (await scene.stats()).get(`queue_${QUEUE}_mem_items`) ?? NaN;
      scene.writeConfig(IN_MEMORY);
      const { ping, value } = await scene.probe(async () => {
        await Bun.sleep(1000);
        const began = performance.now();
        const failure = await reloadByCommand(scene);
        const ms = performance.now() - began;
        if (failure !== null) scene.problems.push(failure);
        await Bun.sleep(s.seconds * 1000);
        return ms;
      });
      const after = (await scene.stats()).get(`queue_${QUEUE}_mem_items`) ?? NaN;
      return {
        done: `${queued(s, s.items)} queued with max_memory_size 16MiB, raised to 1GiB by \`reload\`; probe 1 s before to ${s.seconds} s after`,
        ping,
        figure: `reload answered in ${value.toFixed(0)} ms; mem_items ${integer(before)} → ${integer(after)}`,
      };
    }),
  ],
};

const drain: Scenario = {
  id: 8,
  run: async (s, pace) => [
    await playScene("8", "drain with reliable reads", IN_MEMORY, s, async (scene) => {
      await fill(scene, pace, s.items);
      const { ping, value } = await scene.probe(() => scene.drain(QUEUE));
      if (value.items !== s.items) scene.problems.push(`the drain received ${integer(value.items)} items, ${integer(s.items)} were queued`);
      await scene.expectStat(`queue_${QUEUE}_items`, 0);
      return {
        done: `${queued(s, s.items)} drained by ${s.connections} connections × ${s.batch} pipelined \`get q/open\` + \`get q/close\``,
        ping,
        figure: `${integer(value.items)} items in ${seconds(value.ms)} (${rate(value.items, value.ms)})`,
      };
    }),
  ],
};

/** Sends `flush_expired q` `times` times on one connection (pipelined); the answers, and how long they took. */
async function flushExpired(scene: Scene, times: number): Promise<{ answers: number[]; ms: number }> {
  const started = performance.now();
  const reply = await exchange(scene.port, "flush_expired q\r\n".repeat(times), (text) => text.split("\r\n").length > times || /ERROR/.test(text));
  return { answers: reply.trim().split("\r\n").map(Number), ms: performance.now() - started };
}

const FLUSH_TIMES = 20;

const flushExpiredScan: Scenario = {
  id: 9,
  run: async (s, pace) => [
    await playScene("9a", "flush_expired, nothing expired", IN_MEMORY, s, async (scene) => {
      await fill(scene, pace, s.items);
      const { ping, value } = await scene.probe(() => flushExpired(scene, FLUSH_TIMES));
      if (value.answers.join() !== Array(FLUSH_TIMES).fill(0).join()) scene.problems.push(`flush_expired answered ${value.answers.join(",")}`);
      await scene.expectStat(`queue_${QUEUE}_items`, s.items);
      return { done: `${FLUSH_TIMES} pipelined \`flush_expired\` over ${queued(s, s.items)}, none expired`, ping, figure: `answered in ${seconds(value.ms)}, RSS ${mib(scene.kestrel.memory().rss)}` };
    }),
    await playScene("9b", "flush_expired, every item expired", `expiration_timer_frequency = 0\n${IN_MEMORY}`, s, async (scene) => {
      const expiry = expiryAfterFill(pace, s.items);
      await fill(scene, pace, s.items, expiry);
      await Bun.sleep(Math.max(0, expiry * 1000 + 100 - Date.now()));
      const { ping, value } = await scene.probe(() => flushExpired(scene, 1));
      if (value.answers[0] !== s.items) scene.problems.push(`flush_expired answered ${value.answers.join(",")}, ${integer(s.items)} had expired`);
      await scene.expectStat(`queue_${QUEUE}_items`, 0);
      return { done: `one \`flush_expired\` of ${queued(s, s.items)} that all expired (no sweep)`, ping, figure: `answered in ${seconds(value.ms)}` };
    }),
  ],
};

/** Where the items of scenario 11 wait: mostly in the journal (read-behind), or all in memory. */
const ON_DISK = 'max_memory_size = "16MiB"\n';

/** Sends `command` (a flush or delete, answered on one line) and returns how long its answer took; a problem if it is not `expected`. */
async function dropEverything(scene: Scene, command: string, expected: string): Promise<number> {
  const started = performance.now();
  const reply = await exchange(scene.port, `${command}\r\n`, (text) => text.endsWith("\r\n"));
  if (reply.trim() !== expected) scene.problems.push(`\`${command}\` answered ${JSON.stringify(reply.trim())}`);
  return performance.now() - started;
}

/** A row of scenario 11: `command` over BENCH_ITEMS items kept as `config` says; probe 0.5 s before to 2 s after, then a set and a get must see only the new item. */
function dropScene(id: string, command: string, expected: string, where: string, config: string, s: StallSettings, pace: Pace): Promise<StallRow> {
  return playScene(id, `${command} of ${integer(s.items)} items, ${where}`, config, s, async (scene) => {
    await fill(scene, pace, s.items);
    const collections = async () => (await scene.stats()).get("memory_collections") ?? NaN;
    const before = await collections();
    const { ping, value } = await scene.probe(async () => {
      await Bun.sleep(500);
      const ms = await dropEverything(scene, command, expected);
      await Bun.sleep(2000);
      return ms;
    });
    const collected = (await collections()) - before;
    const after = await exchange(scene.port, `set ${QUEUE} 0 0 5\r\nafter\r\nget ${QUEUE}\r\nget ${QUEUE}\r\n`, (text) => text.split("END\r\n").length > 2);
    if (after !== "STORED\r\nVALUE q 0 5\r\nafter\r\nEND\r\nEND\r\n") scene.problems.push(`a set and two gets after \`${command}\` answered ${JSON.stringify(after)}`);
    return { done: `\`${command}\` of ${queued(s, s.items)} queued, ${where}; probe 0.5 s before to 2 s after`, ping, figure: `answered in ${value.toFixed(0)} ms; ${integer(collected)} memory collections meanwhile` };
  });
}

const dropBig: Scenario = {
  id: 11,
  run: async (s, pace) => [
    await dropScene("11a", `flush ${QUEUE}`, "END", "most on disk (max_memory_size 16MiB)", ON_DISK, s, pace),
    await dropScene("11b", `flush ${QUEUE}`, "END", "all in memory", IN_MEMORY, s, pace),
    await dropScene("11c", `delete ${QUEUE}`, "DELETED", "most on disk (max_memory_size 16MiB)", ON_DISK, s, pace),
    await dropScene("11d", "flush_all", "Flushed all queues.", "all in memory", IN_MEMORY, s, pace),
  ],
};

export const SCENARIOS: readonly Scenario[] = [upkeep, setsUnderLoad, expirySweep, bigFanout, wideFanout, replay, reloadMemory, drain, flushExpiredScan, blockedCrowds, dropBig, dataDirDeleted];
