/**
 * The first-run setup: a few questions, then a commented kestrel.toml.
 *
 * Nothing is written until the last answer is confirmed: a cancel (Ctrl-C) at any point leaves
 * the disk as it was. The queue directory is only checked while asking (it must be creatable and
 * writable); it is created, and proved writable, when the config is written. Listening is on
 * this machine only unless the user picks otherwise; then an auth file is offered, and a warning
 * given if there is none.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { renderConfig, tomlString } from "../config/render.ts";
import * as v from "../config/values.ts";
import { isLoopbackAddress } from "../server/access.ts";
import { readAuthFile } from "../server/auth_file.ts";
import { VERSION } from "../version.ts";
import { CANCELLED, clackAsker, withTerminal, type Answer, type Asker } from "./asker.ts";
import { EXIT_HANGUP } from "./usage.ts";

class Cancelled extends Error {}

/** The answer, or throws Cancelled. */
function given<T>(answer: Answer<T>): T {
  if (answer === CANCELLED) throw new Cancelled();
  return answer;
}

const port = (value: string) => (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535 ? undefined : "a port number from 1 to 65535");
const nonEmpty = (value: string) => (value.trim() === "" ? "can't be empty" : undefined);
const size = (value: string) => (v.size(false)(value) instanceof v.Mismatch ? 'a size, like "128MiB" or "1GiB"' : undefined);
const interval = (value: string) => (v.syncPolicy(value) instanceof v.Mismatch ? 'an interval, like "20ms" or "1s"' : undefined);

/** Where `path` can be created (or is) as a writable directory; an error message if it can't. */
function creatableDirectory(path: string): string | undefined {
  let probe = path;
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) return `nothing of ${path} exists`;
    probe = parent;
  }
  if (!statSync(probe).isDirectory()) return `${probe} is not a directory`;
  try {
    accessSync(probe, constants.W_OK);
    return undefined;
  } catch {
    return `${probe} is not writable`;
  }
}

/** Where `path` (relative to `configDir`) is a valid auth file, or empty (none); an error message if not. */
function authFileOrNone(configDir: string, path: string): string | undefined {
  if (path.trim() === "") return undefined;
  try {
    readAuthFile(resolve(configDir, path));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Runs the setup on the terminal (clack); exits 129 if the terminal goes away meanwhile. */
export function setupOnTerminal(configPath: string): Promise<boolean> {
  return withTerminal(
    () => runSetup(clackAsker, configPath),
    () => process.exit(EXIT_HANGUP),
  );
}

/**
 * Where to listen, and, beyond this machine, the auth file (none is allowed, with a warning).
 * Throws Cancelled.
 */
async function askWhereToListen(asker: Asker, configDir: string): Promise<{ host: string; listenPort: string; authFile: string }> {
  const listen = given(
    await asker.select(
      "Listen for memcache clients on",
      [
        { value: "loopback", label: "this machine only", hint: "127.0.0.1; clients on other machines can't connect" },
        { value: "all", label: "all interfaces", hint: "0.0.0.0; anyone who can reach the port" },
        { value: "address", label: "one address", hint: "an address of this machine" },
      ],
      "loopback",
    ),
  );
  const host = listen === "loopback" ? "127.0.0.1" : listen === "all" ? "0.0.0.0" : given(await asker.text("Address to listen on", "", nonEmpty));
  const listenPort = given(await asker.text("Port", "22133", port));
  if (isLoopbackAddress(host)) return { host, listenPort, authFile: "" };
  const authFile = given(
    await asker.text("File of user:password lines clients must authenticate with (empty: none)", "", (value) => authFileOrNone(configDir, value)),
  );
  if (authFile === "") {
    asker.warn(
      `Without authentication anyone who can reach ${host}:${listenPort} can read, take and add items on every queue ` +
        "(shutdown, reload, delete and flush stay limited to this machine). See docs/security.md.",
    );
  }
  return { host, listenPort, authFile };
}

/** Asks the questions and writes `configPath`; false if the user cancelled (nothing written). */
export async function runSetup(asker: Asker, configPath: string): Promise<boolean> {
  const configDir = dirname(resolve(configPath));
  asker.intro(`kestrel ${VERSION}: setup`);
  try {
    if (existsSync(configPath) && !given(await asker.confirm(`${configPath} exists. Replace it?`, false))) throw new Cancelled();
    const { host, listenPort, authFile } = await askWhereToListen(asker, configDir);
    const queuePath = given(
      await asker.text("Directory for the queues' journals", "kestrel-data", (value) => creatableDirectory(resolve(configDir, value))),
    );
    const syncChoice = given(
      await asker.select(
        "When are journal writes forced to disk (fsync)?",
        [
          { value: "never", label: "never", hint: "the OS decides; fastest; survives a crash of the server, not of the machine" },
          { value: "always", label: "always", hint: "before every STORED; group-committed; survives a power loss" },
          { value: "interval", label: "every few milliseconds", hint: "a middle way" },
        ],
        "never",
      ),
    );
    const sync = syncChoice === "interval" ? given(await asker.text("fsync at most this long after a write", "20ms", interval)) : syncChoice;
    const memory = given(await asker.text("Memory for items, per queue (the rest waits on disk)", "128MiB", size));
    const admin = given(
      await asker.select(
        "Admin HTTP endpoint (/health, /stats.json, /metrics)?",
        [
          { value: "off", label: "off" },
          { value: "on", label: "on", hint: "on 127.0.0.1" },
        ],
        "off",
      ),
    );
    const adminPort = admin === "on" ? given(await asker.text("Admin HTTP port", "22134", port)) : null;

    const chosen: Record<string, string> = {
      host: tomlString(host),
      port: listenPort,
      queue_path: tomlString(queuePath),
      sync_journal: tomlString(sync),
      max_memory_size: tomlString(memory),
    };
    if (authFile !== "") chosen.auth_file = tomlString(authFile);
    if (adminPort !== null) chosen.admin_port = adminPort;
    asker.note(Object.entries(chosen).map(([key, value]) => `${key} = ${value}`).join("\n"), configPath);
    if (!given(await asker.confirm(`Write ${configPath}?`, true))) throw new Cancelled();
    writeSetup(configPath, resolve(configDir, queuePath), renderConfig(chosen, `kestrel setup ${VERSION} on ${new Date().toISOString().slice(0, 10)}`));
    asker.outro(`Wrote ${configPath}. Queues live in ${resolve(configDir, queuePath)}.`);
    return true;
  } catch (error) {
    if (!(error instanceof Cancelled)) throw error;
    asker.cancel("Setup cancelled; nothing was written.");
    return false;
  }
}

/** Creates the queue directory (checking it takes a file) and writes the config atomically. */
function writeSetup(configPath: string, queueDir: string, text: string): void {
  mkdirSync(queueDir, { recursive: true });
  mkdirSync(dirname(resolve(configPath)), { recursive: true });
  const probe = join(queueDir, `.setup-probe.${process.pid}.tmp`);
  writeFileSync(probe, "");
  rmSync(probe);
  const temp = `${configPath}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o644 });
  renameSync(temp, configPath);
}
