/**
 * Responsiveness probe, run as its own process beside a benchmark that loads a server (so the
 * load generator's own event loop can't delay it). Two probes run side by side:
 *
 *   - new clients: every INTERVAL_MS it opens a fresh connection to 127.0.0.1:<port>, sends
 *     `version` and prints one line per probe on stdout, one probe at a time:
 *       <ms>        the time from starting to connect until the VERSION line came back
 *       timeout     no VERSION line within TIMEOUT_MS (the connection is dropped)
 *       error <m>   the connection failed (refused, reset)
 *   - stalls: the 5 ms ping of bench/lib/ping.ts (`get ping_nothing` on one connection); on
 *     SIGTERM it stops and prints one line `ping <PingFigures as JSON>`, then exits 0.
 *
 *   bun bench/probe.ts <port> [interval ms, default 100] [stall ms, default 20]
 */
import { Pinger } from "./lib/ping.ts";
import { HOST } from "./lib/protocol.ts";

const TIMEOUT_MS = 1000;

function probe(port: number): Promise<string> {
  const began = performance.now();
  return new Promise((resolve) => {
    let reply = "";
    let settled = false;
    const finish = (line: string, socket?: { end(): void }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      resolve(line);
    };
    const timer = setTimeout(() => finish("timeout", connection), TIMEOUT_MS);
    let connection: { end(): void } | undefined;
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        open: (socket) => {
          connection = socket;
          socket.write("version\r\n");
        },
        data: (socket, chunk) => {
          reply += chunk.toString("latin1");
          if (reply.includes("\r\n")) finish(reply.startsWith("VERSION ") ? (performance.now() - began).toFixed(2) : `error unexpected reply ${JSON.stringify(reply.slice(0, 80))}`, socket);
        },
        close: () => finish("error connection closed"),
        error: (_socket, error) => finish(`error ${error.message}`),
      },
    }).catch((error: Error) => finish(`error ${error.message}`));
  });
}

const port = Number(process.argv[2]);
const intervalMs = Number(process.argv[3] ?? 100);
const stallMs = Number(process.argv[4] ?? 20);
if (!Number.isInteger(port) || port <= 0 || !(intervalMs > 0) || !(stallMs > 0)) {
  console.error("usage: bun bench/probe.ts <port> [interval ms] [stall ms]");
  process.exit(2);
}
const pinger = await Pinger.start(port, stallMs);
process.on("SIGTERM", () => {
  void pinger.stop().then((figures) => {
    console.log(`ping ${JSON.stringify(figures)}`);
    process.exit(0);
  });
});
for (;;) {
  const started = performance.now();
  console.log(await probe(port));
  await Bun.sleep(Math.max(0, intervalMs - (performance.now() - started)));
}
