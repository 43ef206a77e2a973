/**
 * A real third-party memcache client against the server: Python's pymemcache (Debian's
 * python3-pymemcache, installed if missing), whose `set` sends `noreply` by default; with and
 * without authentication (`auth_file`).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDebianPackages } from "../helpers/debian.ts";
import { ServerProcess } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const PYTHON = "/usr/bin/python3";
let server: ServerProcess;

beforeAll(async () => {
  ensureDebianPackages(["python3-pymemcache"], () => spawnSync(PYTHON, ["-c", "import pymemcache"]).status === 0);
  server = await ServerProcess.start();
}, 300_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  server.removeData();
});

const SCRIPT = `
import sys
from pymemcache.client.base import Client

c = Client(("127.0.0.1", int(sys.argv[1])), connect_timeout=5, timeout=10)
c.set("jobs", b"first")                      # noreply by default
c.set("jobs", b"second")
c.set("jobs", b"third", noreply=False)
assert c.get("jobs/open") == b"first", "open"
assert c.get("jobs/close/open") == b"second", "close/open"
assert c.get("jobs/close") is None, "close"
assert c.get("jobs/peek") == b"third", "peek"
assert c.get("jobs") == b"third", "get"
assert c.get("jobs") is None, "empty"
assert c.get("jobs/t=50") is None, "timeout"
c.set("a", b"1"); c.set("b", bytes(range(256)))
assert c.get_many(["a", "b", "empty"]) == {"a": b"1", "b": bytes(range(256))}, "get_many"
big = bytes(1_000_000)
assert c.set("big", big, noreply=False), "big set"
assert c.get("big") == big, "big get"
assert c.delete("jobs", noreply=False), "delete"
stats = c.stats()
assert int(stats[b"cmd_set"]) >= 6, stats
print("ok")
`;

test("pymemcache sets and gets, including keys like jobs/open and jobs/close/open", () => {
  const result = spawnSync(PYTHON, ["-c", SCRIPT, String(server.port)], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.stdout.trim()).toBe("ok");
});

const AUTH_SCRIPT = `
import sys
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError

def client():
    return Client(("127.0.0.1", int(sys.argv[1])), connect_timeout=5, timeout=10)

c = client()
try:
    c.get("jobs")
    raise AssertionError("a get before authenticating was served")
except MemcacheClientError as error:
    assert "unauthenticated" in str(error), error

c = client()
c.set("auth", "worker s3cret pass")           # noreply, as pymemcache sends sets by default
c.set("jobs", b"one")
assert c.get("jobs") == b"one", "after noreply auth"

c = client()
assert c.set("auth", "worker s3cret pass", noreply=False), "auth answered STORED"
c.set("jobs", b"two")
assert c.get("jobs") == b"two", "after auth"

c = client()
c.set("auth", "worker wrong")
try:
    c.get("jobs")
    raise AssertionError("a get after a failed authentication was served")
except MemcacheClientError as error:
    assert "authentication failure" in str(error), error
print("ok")
`;

test("pymemcache authenticates with set('auth', 'user password'), with or without noreply", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "users"), "worker:s3cret pass\n", { mode: 0o600 });
  const authServer = await ServerProcess.start({ configPath: join(dir, "kestrel.toml"), config: 'auth_file = "users"\n' });
  const result = spawnSync(PYTHON, ["-c", AUTH_SCRIPT, String(authServer.port)], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(result.stdout.trim()).toBe("ok");
  expect(await authServer.stop()).toBe(0);
  authServer.removeData();
});
