/**
 * The "bun floor" target of bench/throughput.ts: the ceiling of the memcache protocol on Bun on
 * this machine, so that the kestrel / bun floor ratio isolates the cost of the queue and the journal.
 *
 * It frames requests with Kestrel's own RequestParser and writes replies through Kestrel's own
 * Outbox, as src/server/connection.ts does (replies pushed while the chunk is parsed, then one
 * flush per data callback), but keeps no queue and no journal: like memcached, it keeps only the
 * last item set under each queue name. Every `set` is answered `STORED`; a `get` of a key
 * (`<queue>[/options]`, options as Kestrel parses them) answers that queue's last item
 * (`VALUE <key> 0 <n>`, the key echoed as sent) and `END`, or a bare `END` before the first set
 * or for a confirm (`/close` without `/open`), as Kestrel answers one. Nothing is removed, so a
 * get never waits. `stats` reports cmd_set, get_hits and get_misses so a bench can check its
 * counters; anything else is answered `ERROR`. It runs with the allocator tuned as the server's
 * `serve` tunes it (src/cli/allocator_tuning.ts), so the two are compared on the same runtime.
 *
 * Usage: bun bench/floor_server.ts <port>   (port 0 picks one)
 * Logs `listening on 127.0.0.1:<port>` to stderr once listening; exits on SIGTERM or SIGINT.
 */
import type { Socket } from "bun";
import { tuneAllocator } from "../src/cli/allocator_tuning.ts";
import { DEFAULT_SERVER_CONFIG } from "../src/config/schema.ts";
import { ownedBytes } from "../src/journal/byte_slab.ts";
import type { Item } from "../src/journal/item.ts";
import { MAX_LINE_LENGTH } from "../src/server/memcache/front_end.ts";
import { Outbox } from "../src/server/outbox.ts";
import { END, ERROR, STORED, line, value } from "../src/server/memcache/replies.ts";
import { parseGetKey } from "../src/server/memcache/get_options.ts";
import { RequestParser, type Frame } from "../src/server/memcache/request_parser.ts";
import { HOST } from "./lib/protocol.ts";

const counters = { cmdSet: 0, getHits: 0, getMisses: 0, currConnections: 0, totalConnections: 0 };
/** The last item set under each queue name. */
const lastItems = new Map<string, Item>();

class FloorConnection {
  private readonly outbox: Outbox;
  private readonly parser = new RequestParser(MAX_LINE_LENGTH, DEFAULT_SERVER_CONFIG.maxRequestSize);
  /** A fatal frame was answered: close once the reply is out. */
  private closing = false;

  constructor(private readonly socket: Socket<FloorConnection>) {
    this.outbox = new Outbox(socket);
  }

  onData(chunk: Uint8Array): void {
    if (this.closing) return;
    this.parser.push(chunk);
    for (let frame = this.parser.next(); frame !== null; frame = this.parser.next()) {
      this.answer(frame);
      if (this.closing) break;
    }
    this.writeOut();
  }

  onDrain(): void {
    this.outbox.drained();
    this.writeOut();
  }

  private writeOut(): void {
    this.outbox.flush();
    if (this.closing && this.outbox.idle) this.socket.end();
  }

  private answer(frame: Frame): void {
    switch (frame.kind) {
      case "set":
        counters.cmdSet++;
        lastItems.set(frame.key, { id: counters.cmdSet, addTime: 0, expiry: 0, flags: frame.flags, data: ownedBytes(frame.data) });
        if (!frame.noreply) this.outbox.push(STORED);
        return;
      case "line":
        return this.answerLine(frame.command, frame.args);
      case "unsupported-storage":
        if (!frame.noreply) this.outbox.push(ERROR);
        return;
      case "bad-request":
        if (!frame.noreply) this.outbox.push(line(frame.reply));
        return;
      case "fatal":
        this.outbox.push(line(frame.reply));
        this.closing = true;
        return;
    }
  }

  private answerLine(command: string, args: readonly string[]): void {
    if ((command === "get" || command === "gets") && args.length > 0) {
      for (const key of args) this.answerKey(key, command === "gets");
      this.outbox.push(END);
    } else if (command === "stats" && args.length === 0) {
      this.outbox.push(statsReport());
    } else {
      this.outbox.push(ERROR);
    }
  }

  /** The queue's last item for a take or an open, nothing for a confirm or before the first set. */
  private answerKey(key: string, cas: boolean): void {
    const request = parseGetKey(key);
    const confirm = typeof request !== "string" && request.close && !request.open;
    const item = typeof request === "string" || confirm ? undefined : lastItems.get(request.queue);
    if (item === undefined) {
      counters.getMisses++;
      return;
    }
    counters.getHits++;
    this.outbox.push(...value(key, item, cas));
  }
}

function statsReport(): string {
  const stats: Array<[string, number]> = [
    ["pid", process.pid],
    ["curr_connections", counters.currConnections],
    ["total_connections", counters.totalConnections],
    ["cmd_set", counters.cmdSet],
    ["get_hits", counters.getHits],
    ["get_misses", counters.getMisses],
  ];
  return `${stats.map(([name, n]) => `STAT ${name} ${n}\r\n`).join("")}END\r\n`;
}

function parsePort(argv: readonly string[]): number {
  const [portText, ...rest] = argv;
  const port = Number(portText);
  if (portText === undefined || rest.length > 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("usage: bun bench/floor_server.ts <port>");
    process.exit(2);
  }
  return port;
}

function main(): void {
  const port = parsePort(process.argv.slice(2));
  tuneAllocator();
  const listener = Bun.listen<FloorConnection>({
    hostname: HOST,
    port,
    socket: {
      open: (socket) => {
        socket.data = new FloorConnection(socket);
        counters.currConnections++;
        counters.totalConnections++;
      },
      data: (socket, chunk) => socket.data.onData(chunk),
      drain: (socket) => socket.data.onDrain(),
      close: () => void counters.currConnections--,
      error: () => {},
    },
  });
  console.error(`listening on ${HOST}:${listener.port}`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      listener.stop(true);
      process.exit(0);
    });
  }
}

main();
