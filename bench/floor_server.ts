/**
 * The "bun floor" target of bench/throughput.ts: the ceiling of the memcache protocol on Bun on
 * this machine, so that the kestrel / bun floor ratio isolates the cost of the queue and the journal.
 *
 * It frames requests with Kestrel's own RequestParser and writes replies through Kestrel's own
 * Outbox, as src/server/connection.ts does (replies pushed while the chunk is parsed, then one
 * flush per data callback), but keeps no queue and no journal: every `set` is answered
 * `STORED`, every `get` with one fixed item per key (`VALUE <key> 0 <n>`, the key echoed as
 * sent, the bench's a-z pattern as data) and `END`. `stats` reports cmd_set, get_hits and
 * get_misses so the bench can check its counters; anything else is answered `ERROR`.
 *
 * Usage: bun bench/floor_server.ts <port> [item-size]   (port 0 picks one; item size default 1024)
 * Logs `listening on 127.0.0.1:<port>` to stderr once listening; exits on SIGTERM or SIGINT.
 */
import type { Socket } from "bun";
import { DEFAULT_SERVER_CONFIG } from "../src/config/schema.ts";
import type { Item } from "../src/journal/item.ts";
import { MAX_LINE_LENGTH } from "../src/server/memcache/front_end.ts";
import { Outbox } from "../src/server/outbox.ts";
import { END, ERROR, STORED, line, value } from "../src/server/memcache/replies.ts";
import { RequestParser, type Frame } from "../src/server/memcache/request_parser.ts";
import { HOST, benchItem } from "./lib/protocol.ts";

const counters = { cmdSet: 0, getHits: 0, currConnections: 0, totalConnections: 0 };

class FloorConnection {
  private readonly outbox: Outbox;
  private readonly parser = new RequestParser(MAX_LINE_LENGTH, DEFAULT_SERVER_CONFIG.maxRequestSize);
  /** A fatal frame was answered: close once the reply is out. */
  private closing = false;

  constructor(
    private readonly socket: Socket<FloorConnection>,
    private readonly item: Item,
  ) {
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
      for (const key of args) this.outbox.push(...value(key, this.item, command === "gets"));
      counters.getHits += args.length;
      this.outbox.push(END);
    } else if (command === "stats" && args.length === 0) {
      this.outbox.push(statsReport());
    } else {
      this.outbox.push(ERROR);
    }
  }
}

function statsReport(): string {
  const stats: Array<[string, number]> = [
    ["pid", process.pid],
    ["curr_connections", counters.currConnections],
    ["total_connections", counters.totalConnections],
    ["cmd_set", counters.cmdSet],
    ["get_hits", counters.getHits],
    ["get_misses", 0],
  ];
  return `${stats.map(([name, n]) => `STAT ${name} ${n}\r\n`).join("")}END\r\n`;
}

function parseArgs(argv: readonly string[]): { port: number; itemSize: number } {
  const [portText, sizeText = "1024"] = argv;
  const port = Number(portText);
  const itemSize = Number(sizeText);
  if (portText === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(itemSize) || itemSize < 0) {
    console.error("usage: bun bench/floor_server.ts <port> [item-size]");
    process.exit(2);
  }
  return { port, itemSize };
}

function main(): void {
  const { port, itemSize } = parseArgs(process.argv.slice(2));
  const item: Item = { id: 1, addTime: 0, expiry: 0, flags: 0, data: benchItem(itemSize) };
  const listener = Bun.listen<FloorConnection>({
    hostname: HOST,
    port,
    socket: {
      open: (socket) => {
        socket.data = new FloorConnection(socket, item);
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
