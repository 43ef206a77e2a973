import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CANCELLED, type Answer, type Asker, type Choice } from "../../src/cli/asker.ts";
import { runSetup } from "../../src/cli/setup.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { tempDir } from "../helpers/temp_dir.ts";

type Scripted = string | boolean | typeof CANCELLED;

/** Answers from a script, in order; "" takes the default; validation errors are recorded and the next answer tried. */
class ScriptedAsker implements Asker {
  readonly asked: string[] = [];
  readonly rejected: string[] = [];
  readonly warnings: string[] = [];
  cancelled = false;
  private readonly answers: Scripted[];
  constructor(script: readonly Scripted[]) {
    this.answers = [...script];
  }

  private next(message: string): Scripted {
    this.asked.push(message);
    if (this.answers.length === 0) throw new Error(`no scripted answer for: ${message}`);
    return this.answers.shift()!;
  }

  intro(): void {}
  note(): void {}
  outro(): void {}
  warn(message: string): void {
    this.warnings.push(message);
  }
  cancel(): void {
    this.cancelled = true;
  }

  async text(message: string, fallback: string, validate: (value: string) => string | undefined): Promise<Answer<string>> {
    for (;;) {
      const answer = this.next(message);
      if (answer === CANCELLED) return CANCELLED;
      const value = answer === "" ? fallback : String(answer);
      const error = validate(value);
      if (error === undefined) return value;
      this.rejected.push(`${value}: ${error}`);
    }
  }

  async select<T extends string>(message: string, choices: readonly Choice<T>[], initial: T): Promise<Answer<T>> {
    const answer = this.next(message);
    if (answer === CANCELLED) return CANCELLED;
    if (answer === "") return initial;
    if (!choices.some((choice) => choice.value === answer)) throw new Error(`${String(answer)} is not a choice of ${message}`);
    return answer as T;
  }

  async confirm(message: string, initial: boolean): Promise<Answer<boolean>> {
    const answer = this.next(message);
    if (answer === CANCELLED) return CANCELLED;
    return answer === "" ? initial : Boolean(answer);
  }
}

const FULL_SCRIPT: readonly Scripted[] = ["loopback", "23456", "queues", "interval", "50ms", "4MiB", "on", "", true];

describe("first-run setup", () => {
  test("writes a config with the answers that the server reads back", async () => {
    const dir = tempDir();
    const path = join(dir, "conf", "kestrel.toml");
    const asker = new ScriptedAsker(FULL_SCRIPT);
    expect(await runSetup(asker, path)).toBe(true);
    const config = loadConfigFile(path);
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 23456, queuePath: join(dir, "conf", "queues"), adminPort: 22134, authFile: null });
    expect(config.queueDefaults).toMatchObject({ syncJournal: { kind: "interval", ms: 50 }, maxMemorySize: 4 * 1024 * 1024 });
    expect(existsSync(join(dir, "conf", "queues"))).toBe(true);
    expect(readFileSync(path, "utf8")).toContain('# max_items = "unlimited"');
    expect(asker.warnings).toEqual([]);
  });

  test("defaults for everything give the embedded defaults: this machine only", async () => {
    const dir = tempDir();
    const path = join(dir, "kestrel.toml");
    const asker = new ScriptedAsker(["", "", "", "", "", "", true]);
    expect(await runSetup(asker, path)).toBe(true);
    const config = loadConfigFile(path);
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 22133, queuePath: join(dir, "kestrel-data"), adminPort: null, authFile: null });
    expect(config.queueDefaults.syncJournal).toEqual({ kind: "never" });
    expect(asker.asked[0]).toBe("Listen for memcache clients on");
    expect(asker.warnings).toEqual([]);
  });

  test("listening beyond this machine offers an auth file, and warns when there is none", async () => {
    const dir = tempDir();
    const open = new ScriptedAsker(["all", "", "", "", "", "", "", true]);
    expect(await runSetup(open, join(dir, "open.toml"))).toBe(true);
    expect(loadConfigFile(join(dir, "open.toml")).server).toMatchObject({ host: "0.0.0.0", authFile: null });
    expect(open.asked[2]).toStartWith("File of user:password lines");
    expect(open.warnings).toEqual([
      "Without authentication anyone who can reach 0.0.0.0:22133 can read, take and add items on every queue (shutdown, reload, delete and flush stay limited to this machine). See docs/security.md.",
    ]);

    writeFileSync(join(dir, "users"), "alice:s3cret\n");
    writeFileSync(join(dir, "broken"), "alice\n");
    const closed = new ScriptedAsker(["address", "10.0.4.2", "", "broken", "users", "", "", "", "", true]);
    expect(await runSetup(closed, join(dir, "closed.toml"))).toBe(true);
    expect(loadConfigFile(join(dir, "closed.toml")).server).toMatchObject({ host: "10.0.4.2", authFile: join(dir, "users") });
    expect(closed.rejected).toEqual([`broken: ${join(dir, "broken")}: line 1: expected user:password`]);
    expect(closed.warnings).toEqual([]);
  });

  test("bad answers are asked again", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a-file"), "");
    const asker = new ScriptedAsker(["", "http", "99999", "2", join(dir, "a-file", "q"), "q", "", "lots", "1GiB", "", true]);
    expect(await runSetup(asker, join(dir, "kestrel.toml"))).toBe(true);
    expect(asker.rejected).toEqual([
      "http: a port number from 1 to 65535",
      "99999: a port number from 1 to 65535",
      `${join(dir, "a-file", "q")}: ${join(dir, "a-file")} is not a directory`,
      'lots: a size, like "128MiB" or "1GiB"',
    ]);
  });

  test("cancelling at any question writes nothing", async () => {
    const usersDir = tempDir();
    writeFileSync(join(usersDir, "users"), "alice:s3cret\n");
    const scripts: readonly (readonly Scripted[])[] = [FULL_SCRIPT, ["address", "10.0.4.2", "", join(usersDir, "users"), "", "", "", "", true]];
    for (const full of scripts) {
      for (let step = 0; step < full.length; step++) {
        const dir = tempDir();
        const path = join(dir, "kestrel.toml");
        const script: Scripted[] = [...full.slice(0, step), CANCELLED];
        const asker = new ScriptedAsker(script);
        expect(await runSetup(asker, path)).toBe(false);
        expect(asker.cancelled).toBe(true);
        expect(existsSync(path)).toBe(false);
        expect(existsSync(join(dir, "queues"))).toBe(false);
      }
    }
  });

  test("an existing config is only replaced when the user says so", async () => {
    const dir = tempDir();
    const path = join(dir, "kestrel.toml");
    writeFileSync(path, "port = 1\n");
    expect(await runSetup(new ScriptedAsker([false]), path)).toBe(false);
    expect(readFileSync(path, "utf8")).toBe("port = 1\n");
    expect(await runSetup(new ScriptedAsker([true, ...FULL_SCRIPT]), path)).toBe(true);
    expect(loadConfigFile(path).server.port).toBe(23456);
  });
});
