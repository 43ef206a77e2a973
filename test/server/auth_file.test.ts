import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/load.ts";
import { Credentials, entriesLookedAt, readAuthFile } from "../../src/server/auth_file.ts";
import { bytes } from "../helpers/bytes.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const parse = (text: string) => Credentials.parse(bytes(text), "/etc/kestrel/users");
const errorOf = (text: string) => {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
};

describe("auth file", () => {
  test("user:password lines, as memcached -Y reads them; CRLF, blank lines and no final newline are fine", () => {
    const credentials = parse("alice:s3cret\r\n\nbob:pa:ss word\ncarol:x");
    expect(credentials.userCount).toBe(3);
    expect(credentials.check(bytes("alice s3cret"))).toBe("alice");
    // The password is everything after the first colon of the line and the first space of the token.
    expect(credentials.check(bytes("bob pa:ss word"))).toBe("bob");
    expect(credentials.check(bytes("carol x"))).toBe("carol");
    expect(credentials.has("bob")).toBe(true);
    expect(credentials.has("mallory")).toBe(false);
  });

  test("a wrong password, a wrong user, another user's password or a malformed token is refused", () => {
    const credentials = parse("alice:s3cret\nbob:hunter2\n");
    for (const token of ["alice s3cre", "alice s3cret ", "alice s3cretx", "bob s3cret", "mallory s3cret", "alice", " s3cret", "", "alice:s3cret", "ALICE s3cret"]) {
      expect(credentials.check(bytes(token))).toBeNull();
    }
  });

  test("parsing looks at one entry a line, and a check at one entry whoever it names, however many users there are", () => {
    // Issue 9: at 20,000 users each line was checked against every earlier user (a reload stalled
    // the server for seconds) and each check compared the token with every entry (2.9 ms a guess).
    const users = 10_000;
    const lines = Array.from({ length: users }, (_, i) => `user${i}:password-${i}`).join("\n");
    let before = entriesLookedAt();
    const credentials = parse(lines);
    expect(entriesLookedAt() - before).toBe(users);
    expect(credentials.userCount).toBe(users);
    const tokens: Array<[string, string | null]> = [
      ["user7 password-7", "user7"],
      [`user${users - 1} password-${users - 1}`, `user${users - 1}`],
      ["user7 password-8", null], // a wrong password
      ["mallory password-7", null], // an unknown user: the same work as a wrong password
    ];
    for (const [token, user] of tokens) {
      before = entriesLookedAt();
      expect(credentials.check(bytes(token))).toBe(user);
      expect(entriesLookedAt() - before).toBe(1);
    }
  });

  test("a line that can't be a user is an error naming the file and line, never the password", () => {
    expect(errorOf("alice:one\nbob\n")).toBe("/etc/kestrel/users: line 2: expected user:password");
    expect(errorOf(":secret\n")).toBe("/etc/kestrel/users: line 1: the user name is empty");
    expect(errorOf("alice:\n")).toBe("/etc/kestrel/users: line 1: the password is empty");
    expect(errorOf("al ice:secret\n")).toBe("/etc/kestrel/users: line 1: a user name can't contain a space (clients send '<user> <password>')");
    expect(errorOf("alice:one\nalice:two\n")).toBe("/etc/kestrel/users: line 2: user 'alice' is listed twice");
    expect(errorOf("\n\n")).toBe("/etc/kestrel/users: no users (expected user:password lines)");
    expect(errorOf("alice:one\nbob\n")).not.toContain("one");
  });

  test("readAuthFile names a file it can't read, and notices one others can read", () => {
    const dir = tempDir();
    expect(() => readAuthFile(join(dir, "missing"))).toThrow(new ConfigError(`${join(dir, "missing")}: cannot read auth_file: ENOENT: no such file or directory, open '${join(dir, "missing")}'`));
    const path = join(dir, "users");
    writeFileSync(path, "alice:s3cret\n");
    chmodSync(path, 0o600);
    expect(readAuthFile(path).readableByOthers).toBe(false);
    chmodSync(path, 0o644);
    expect(readAuthFile(path).readableByOthers).toBe(true);
  });
});
