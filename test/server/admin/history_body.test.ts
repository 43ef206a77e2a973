import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { startAdminHttp } from "../../../src/server/admin/admin_http.ts";
import type { Listener } from "../../../src/server/listener.ts";
import { ChunkWriter } from "../../../src/server/admin/chunk_writer.ts";
import { History, type HistoryView } from "../../../src/server/admin/history.ts";
import { historyBody } from "../../../src/server/admin/history_body.ts";
import { RenderChunks } from "../../../src/server/admin/render_chunks.ts";
import { streamedResponse } from "../../../src/server/admin/streamed_body.ts";
import type { Snapshot } from "../../../src/server/snapshot.ts";
import { MemoryPacer } from "../../../src/server/memory_pacer.ts";
import { turnClock } from "../../../src/server/turn_scheduler.ts";
import { configFor } from "../../helpers/config.ts";
import { churningSnapshots, recordNow, snapshot, T0 } from "../../helpers/history_samples.ts";
import { serverContext } from "../../helpers/server_context.ts";
import { tempDir } from "../../helpers/temp_dir.ts";

/** The whole body written from `view`, in one go. */
function bodyOf(view: HistoryView): string {
  const out = new ChunkWriter();
  for (const _ of historyBody(view, out));
  return new TextDecoder().decode(out.take());
}

/** `count` samples of `queues` busy queues named `<prefix><i>` with long names, as a busy server's: values that move and rates with decimals. */
function fill(history: History, count: number, queues: number, prefix: string, from = 0): void {
  const names = Array.from({ length: queues }, (_, i) => `${prefix}_${"x".repeat(40)}_${i}`);
  for (let n = from; n < from + count; n++) {
    const figures = Object.fromEntries(names.map((name, i) => [name, { items: (n * 7 + i) % 1000, bytes: ((n * 7 + i) % 1000) * 10, totalItems: n * (i + 3) }]));
    recordNow(history, snapshot(figures, { resident_bytes: 60e6 + n }), T0 + n * 1000, n * 1000 + (n % 3) * 7);
  }
}

const unexpected = (error: unknown) => {
  throw new Error(`unexpected: ${String(error)}`);
};

describe("/history.json's body", () => {
  test("is byte for byte JSON.stringify of the history as one object, for a churning history, whatever `after`", () => {
    for (const blockSamples of [4, 16]) {
      const history = new History(16, 12, blockSamples);
      let monotonic = 0;
      for (const [n, sample] of churningSnapshots().entries()) {
        monotonic += [1000, 1500, 333, 4000][n % 4]!;
        recordNow(history, sample, T0 + n * 1000, monotonic);
        for (const after of [-1, n - 20, n - 3, n - 1, n, n + 5]) expect(bodyOf(history.view(after))).toBe(JSON.stringify(history.toJson(after)));
      }
    }
    expect(bodyOf(new History().view(-1))).toBe(JSON.stringify(new History().toJson(-1)));
  });

  test("lists names as a JavaScript object does: array indices first, in numeric order; escapes what JSON escapes; NaN is null", () => {
    const names = ["b", "10", "9", "0", "4294967294", "4294967295", "007", "__proto__", 'a"b\\c', "-1", "1e3", "constructor", "99999999999"];
    for (const order of [[...names].sort(), names]) {
      const history = new History(10, 20);
      // No resident_bytes in the server's stats: its series is NaN, written null.
      const server = (n: number) => ({ curr_items: n, bytes: 0, curr_connections: 1 });
      const sample = (n: number): Snapshot => {
        const taken = snapshot(Object.fromEntries(order.map((name, i) => [name, { items: i, totalItems: n * (i + 1) }])));
        return { ...taken, server: Object.entries(server(n)) };
      };
      for (let n = 0; n < 4; n++) recordNow(history, sample(n), T0 + n * 1000, n * 1000);
      const body = bodyOf(history.view(-1));
      expect(body).toBe(JSON.stringify(history.toJson(-1)));
      const parsed = JSON.parse(body) as { server: Record<string, unknown[]>; queues: Record<string, unknown>; rates: Record<string, unknown> };
      expect(parsed.server.resident_bytes).toEqual([null, null, null, null]);
      expect(Object.keys(parsed.queues).sort()).toEqual([...names].sort());
      expect(Object.keys(parsed.rates).sort()).toEqual([...names].sort());
      expect(Object.keys(parsed.rates).slice(0, 4)).toEqual(["0", "9", "10", "4294967294"]);
    }
  });

  test("is sent a chunk at a time as it is read, and stays the history of its moment while samples are recorded", async () => {
    const history = new History();
    fill(history, 900, 100, "busy");
    const expected = JSON.stringify(history.toJson(-1));
    expect(expected.length).toBeGreaterThan(1_000_000);
    const chunks: number[] = [];
    const view = history.view(-1);
    const reader = streamedResponse(new RenderChunks((out) => historyBody(view, out), (bytes) => chunks.push(bytes)), "application/json", { onError: unexpected }).body!.getReader();
    const parts: Uint8Array[] = [];
    const first = await reader.read();
    parts.push(first.value!);
    // Only the first chunk is made when the client has it: at most 64 KiB (and a line) of 1 MB and more.
    expect(chunks).toEqual([first.value!.length]);
    expect(first.value!.length).toBeLessThanOrEqual(68 * 1024);
    // While the rest is read, the history moves on by a whole history and more, its queues all
    // replaced (their columns taken by the newcomers), its old blocks let go.
    let n = 900;
    for (;;) {
      fill(history, 40, 100, "newcomer", n);
      n += 40;
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    expect(n).toBeGreaterThan(1800);
    expect(Object.keys(history.toJson(-1).queues).every((name) => name.startsWith("newcomer"))).toBe(true);
    expect(parts.length).toBeGreaterThan(15);
    expect(chunks.reduce((sum, bytes) => sum + bytes, 0)).toBe(expected.length);
    expect(new TextDecoder().decode(Buffer.concat(parts))).toBe(expected);
  });
});

/** A memory pacer that records the bytes it is told of (each chunk a body made) instead of pacing collections by them. */
class RecordingPacer extends MemoryPacer {
  readonly chunks: number[] = [];
  override traffic(bytes: number): void {
    this.chunks.push(bytes);
  }
  get made(): number {
    return this.chunks.reduce((sum, bytes) => sum + bytes, 0);
  }
}

describe("GET /history.json", () => {
  let server: Listener | null = null;
  afterEach(() => {
    server?.stop(true);
    server = null;
  });

  test("streams the history as the client reads, each chunk counted by the memory pacer; ?after= gives the newer samples", async () => {
    const { ctx, queues } = serverContext(configFor(tempDir()));
    try {
      const history = new History();
      fill(history, 900, 100, "busy");
      const pacer = new RecordingPacer();
      server = startAdminHttp(() => ({ ...ctx, pacer }), history, "127.0.0.1", 0, { listenBackoffs: 0, accepting: 0 });
      const url = `http://127.0.0.1:${server.port}/history.json`;
      const response = await fetch(url);
      expect(response.headers.get("content-type")).toBe("application/json;charset=utf-8");
      const body = await response.text();
      expect(body).toBe(JSON.stringify(history.toJson(-1)));
      // Made a chunk of at most 64 KiB (and a line) at a time, each counted as traffic.
      expect(pacer.chunks.length).toBeGreaterThan(15);
      expect(Math.max(...pacer.chunks)).toBeLessThanOrEqual(68 * 1024);
      expect(pacer.made).toBe(Buffer.byteLength(body));
      const newer = await (await fetch(`${url}?after=897`)).text();
      expect(newer).toBe(JSON.stringify(history.toJson(897)));
      expect(JSON.parse(newer)).toMatchObject({ first: 898, last: 899 });
      expect((await fetch(`${url}?after=soon`)).status).toBe(400);
    } finally {
      queues.close();
    }
  });

  test("with 9,000 busy queues and every turn spent, the body is sent whole (its steps that only look at names wrote nothing, and it hung)", async () => {
    const { ctx, queues } = serverContext(configFor(tempDir()));
    const realNow = turnClock.now;
    try {
      const history = new History(10);
      fill(history, 2, 9000, "busy");
      server = startAdminHttp(() => ctx, history, "127.0.0.1", 0, { listenBackoffs: 0, accepting: 0 });
      turnClock.now = () => 0; // every turn opens with its deadline long past
      const body = await (await fetch(`http://127.0.0.1:${server.port}/history.json`)).text();
      expect(body).toBe(JSON.stringify(history.toJson(-1)));
    } finally {
      turnClock.now = realNow;
      queues.close();
    }
    // The turn opened at time 0 ends with its round: later tests get a fresh one.
    await new Promise<void>((resolve) => setImmediate(resolve));
  });

  test("clients asking for the same samples share one body: made once, whole for each, whether they read or not", async () => {
    const { ctx, queues } = serverContext(configFor(tempDir()));
    const idle: Socket[] = [];
    try {
      const history = new History();
      fill(history, 300, 150, "busy");
      const pacer = new RecordingPacer();
      server = startAdminHttp(() => ({ ...ctx, pacer }), history, "127.0.0.1", 0, { listenBackoffs: 0, accepting: 0 });
      const expected = JSON.stringify(history.toJson(-1));
      const port = server.port!;
      // Ten clients that ask and never read, then thirty that read, eight of them slowly.
      for (let i = 0; i < 10; i++) {
        const socket = connect(port, "127.0.0.1", () => socket.write("GET /history.json HTTP/1.1\r\nhost: x\r\n\r\n"));
        socket.pause();
        idle.push(socket);
      }
      const slowly = async (response: Response) => {
        const reader = response.body!.getReader();
        const parts: Uint8Array[] = [];
        for (;;) {
          for (let turn = 0; turn < 5; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
          const { value, done } = await reader.read();
          if (done) return new TextDecoder().decode(Buffer.concat(parts));
          parts.push(value);
        }
      };
      const bodies = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
        const response = await fetch(`http://127.0.0.1:${port}/history.json`);
        return i % 4 === 0 ? slowly(response) : response.text();
      }));
      for (const body of bodies) expect(body).toBe(expected);
      expect(pacer.made).toBe(Buffer.byteLength(expected));
    } finally {
      for (const socket of idle) socket.destroy();
      queues.close();
    }
  });
});
