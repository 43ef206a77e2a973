/**
 * Runs a real kestrel server process for integration tests: port 0 on loopback, a temp data
 * directory, and stop (SIGTERM) or kill -9 on demand.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClient } from "./client.ts";

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

/** Every server started and not yet stopped; a failing test must not leave one running. */
const running = new Set<ReturnType<typeof Bun.spawn>>();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

export interface ServerOptions {
  /** TOML text for a config file (written next to the data directory). */
  readonly config?: string;
  readonly dataDir?: string;
  readonly args?: readonly string[];
}

export class ServerProcess {
  private log = "";
  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly port: number,
    readonly dataDir: string,
    private readonly options: ServerOptions,
    log: string,
    private readonly logTail: Promise<void>,
    private readonly appendLog: { text: string },
  ) {
    this.log = log;
  }

  /** Everything the server wrote to stderr so far. */
  get output(): string {
    return this.log + this.appendLog.text;
  }

  static async start(options: ServerOptions = {}): Promise<ServerProcess> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "kestrel-test-"));
    const args = [process.execPath, MAIN, "--host", "127.0.0.1", "--port", "0", "--data", dataDir];
    if (options.config !== undefined) {
      const configPath = join(mkdtempSync(join(tmpdir(), "kestrel-conf-")), "kestrel.toml");
      writeFileSync(configPath, options.config);
      args.push("--config", configPath);
    }
    args.push(...(options.args ?? []));
    const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    running.add(proc);
    void proc.exited.then(() => running.delete(proc));
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const match = /listening on [^\s]+:(\d+)/.exec(text);
      if (match !== null) {
        const tail = { text: "" };
        const logTail = (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            tail.text += decoder.decode(value);
          }
        })();
        return new ServerProcess(proc, Number(match[1]), dataDir, options, text, logTail, tail);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before listening (code ${await proc.exited}):\n${text}`);
      text += decoder.decode(value);
    }
  }

  client(): Promise<TestClient> {
    return TestClient.connect(this.port);
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    const code = await this.proc.exited;
    await this.logTail;
    return code;
  }

  async kill9(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    await this.logTail;
  }

  /** A new server on the same data directory (this one must be stopped or killed). */
  restart(options: ServerOptions = {}): Promise<ServerProcess> {
    return ServerProcess.start({ ...this.options, ...options, dataDir: this.dataDir });
  }

  removeData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
