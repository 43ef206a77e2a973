/**
 * `auth_file` on a real server: memcached's text-protocol authentication (`memcached -Y`), a
 * first `set` whose data is `<user> <password>`; the file re-read on reload. A stock client
 * (pymemcache) authenticating is in third_party_client.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { runKestrel, ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

let server: ServerProcess;
let dir: string;
let usersPath: string;

/** The request that authenticates as `user`. */
const login = (user: string, password: string, noreply = false) =>
  `set auth 0 0 ${Buffer.byteLength(`${user} ${password}`)}${noreply ? " noreply" : ""}\r\n${user} ${password}\r\n`;

async function loggedIn(user: string, password: string): Promise<TestClient> {
  const c = await server.client();
  expect(await c.call(login(user, password).trimEnd())).toBe("STORED");
  return c;
}

/** Writes the auth file, sends SIGHUP and waits for the outcome; returns what was logged. */
async function reloadUsers(text: string): Promise<string> {
  writeFileSync(usersPath, text, { mode: 0o600 });
  const mark = server.output.length;
  server.proc.kill("SIGHUP");
  return (await server.waitForLog(/(reloaded config|reload failed).*\n/, mark))[0];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kestrel-auth-"));
  usersPath = join(dir, "users");
  writeFileSync(usersPath, "alice:s3cret\ncarol:pass word:with colon\n", { mode: 0o600 });
  chmodSync(usersPath, 0o600);
  server = await ServerProcess.start({ configPath: join(dir, "kestrel.toml"), config: 'auth_file = "users"\n' });
  await server.waitForLog(/INFO  clients must authenticate: 2 user\(s\) in .*users\n/);
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  server.removeData();
  rmSync(dir, { recursive: true, force: true });
});

describe("authentication", () => {
  test("before it, every command but the authenticating set is refused, and nothing is changed", async () => {
    const c = await server.client();
    for (const command of ["get jobs", "stats", "version", "flush_all", "delete jobs", "shutdown", "quit", "bogus"]) {
      expect(await c.call(command)).toBe("CLIENT_ERROR unauthenticated");
    }
    c.close();
    const admin = await loggedIn("alice", "s3cret");
    expect((await admin.stats()).get("curr_items")).toBe("0");
    admin.close();
  });

  test("a good password is answered STORED; the connection then works as usual, pipelined too", async () => {
    const c = await server.client();
    await c.send(`${login("carol", "pass word:with colon")}set jobs 0 0 1\r\nx\r\nget jobs\r\n`);
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readLine()).toBe("STORED");
    expect(await c.readValue()).toMatchObject({ key: "jobs" });
    c.close();
  });

  test("a client sending what memcached -Y clients send (any key, flags and exptime) authenticates; the login stores nothing", async () => {
    // The wire session of memcached's own t/ascii-auth.t, byte for byte where Kestrel agrees
    // (it closes the connection on a failed login, so that step is in the test below): two
    // sockets log in as two users, then store and read as usual.
    const first = await server.client();
    const second = await server.client();
    await first.send("set foo 0 0 12\r\nalice s3cret\r\n");
    expect(await first.readLine()).toBe("STORED");
    await second.send("set anything 42 3600 26\r\ncarol pass word:with colon\r\n");
    expect(await second.readLine()).toBe("STORED");
    await first.send("set toast 0 0 2\r\nhi\r\nget toast\r\n");
    expect(await first.readLine()).toBe("STORED");
    expect(await first.readLine()).toBe("VALUE toast 0 2");
    expect(await first.readLine()).toBe("hi");
    expect(await first.readLine()).toBe("END");
    await second.send("set toast2 0 0 2\r\nho\r\nget toast2\r\n");
    expect(await second.readLine()).toBe("STORED");
    expect(await second.readLine()).toBe("VALUE toast2 0 2");
    expect(await second.readLine()).toBe("ho");
    expect(await second.readLine()).toBe("END");
    const queues = [...(await first.stats()).keys()].filter((key) => /^queue_(foo|anything)_/.test(key));
    expect(queues).toEqual([]);
    first.close();
    second.close();
  });

  test("a bad one is answered CLIENT_ERROR authentication failure, logged once however often, and the connection closed", async () => {
    const mark = server.output.length;
    for (const token of ["alice wrong", "alice s3cret ", "mallory s3cret", "alice", "carol pass word"]) {
      const c = await server.client();
      await c.send(`set auth 0 0 ${token.length}\r\n${token}\r\nget jobs\r\n`);
      expect(await c.readLine()).toBe("CLIENT_ERROR authentication failure");
      await c.closed;
    }
    await server.waitForLog(/WARN  authentication failure from 127\.0\.0\.1; connection closed\n/, mark);
    // Repeats from the same address are counted (reported every 10 s), not written one by one;
    // each was logged (or counted) before its reply was sent.
    expect(server.output.slice(mark).match(/authentication failure from 127\.0\.0\.1; connection closed\n/g)).toHaveLength(1);
  });

  test("with noreply a good one is not answered (pymemcache sets with noreply)", async () => {
    const c = await server.client();
    expect(await c.call(`${login("alice", "s3cret", true)}version`)).toMatch(/^VERSION /);
    c.close();
  });

  test("before it a set may not be larger than 16 KiB: its data is not read, and the connection is closed", async () => {
    const c = await server.client();
    expect(await c.call("set jobs 0 0 16385")).toBe("SERVER_ERROR object too large");
    await c.closed;
    const after = await loggedIn("alice", "s3cret");
    expect(await after.set("big", "x".repeat(100_000))).toBe("STORED");
    expect((await after.get("big"))?.length).toBe(100_000);
    after.close();
  });

  test("administrative commands are logged with the user", async () => {
    const c = await loggedIn("alice", "s3cret");
    const mark = server.output.length;
    expect(await c.call("flush nothing")).toBe("END");
    await server.waitForLog(/INFO  admin command 'flush nothing' from 127\.0\.0\.1 \(user 'alice'\)\n/, mark);
    c.close();
  });

  test("a reload re-reads the file: a removed user's connections must authenticate again, a new user can; a broken file changes nothing", async () => {
    const alice = await loggedIn("alice", "s3cret");
    expect(await reloadUsers("bob:hunter2\n")).toMatch(/reloaded config/);
    expect(await alice.call("version")).toBe("CLIENT_ERROR unauthenticated");
    expect(await alice.call(login("alice", "s3cret").trimEnd())).toBe("CLIENT_ERROR authentication failure");
    await alice.closed;
    const bob = await loggedIn("bob", "hunter2");

    const failed = await reloadUsers("bob:hunter2\nnot a user line\n");
    expect(failed).toContain(`reload failed, keeping the current config: ${usersPath}: line 2: expected user:password`);
    expect(await bob.call("version")).toMatch(/^VERSION /);
    (await loggedIn("bob", "hunter2")).close();
    bob.close();

    expect(await reloadUsers("alice:s3cret\ncarol:pass word:with colon\n")).toMatch(/reloaded config/);
  });
});

test("a server whose auth file is missing or malformed does not start, and says why", async () => {
  const confDir = tempDir();
  writeFileSync(join(confDir, "kestrel.toml"), 'auth_file = "users"\n');
  const args = ["--config", join(confDir, "kestrel.toml"), "--host", "127.0.0.1", "--port", "0", "--data", join(confDir, "data")];
  const missing = await runKestrel(args);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(`kestrel: ${join(confDir, "users")}: cannot read auth_file: ENOENT`);
  writeFileSync(join(confDir, "users"), "alice\n");
  const malformed = await runKestrel(args);
  expect(malformed.code).toBe(2);
  expect(malformed.stderr).toContain(`kestrel: ${join(confDir, "users")}: line 1: expected user:password`);
});
