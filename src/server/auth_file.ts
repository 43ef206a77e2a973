/**
 * The auth file (`auth_file`): one `user:password` per line, as `memcached -Y` reads it, and the
 * check of a client's `<user> <password>` token against it.
 *
 * Invariants: a file either loads whole or not at all (the error names the file and line, never a
 * password); a loaded file has at least one user, and no user twice, empty, or with a space in its
 * name (the token splits at the first space, so such a user could never log in). The check
 * compares SHA-256 digests of the token's user and password with those of every entry, in
 * constant time and without stopping at a match, so its timing says nothing about how much of a
 * guess was right.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "../config/load.ts";
import { errorText } from "../errors.ts";

const NEWLINE = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

interface Entry {
  readonly user: string;
  readonly userDigest: Buffer;
  readonly passwordDigest: Buffer;
}

export class Credentials {
  private readonly users: ReadonlySet<string>;

  private constructor(
    private readonly entries: readonly Entry[],
    /** The file can be read by users other than its owner (its mode has group or other bits). */
    readonly readableByOthers: boolean,
  ) {
    this.users = new Set(entries.map((entry) => entry.user));
  }

  /** Parses the bytes of an auth file; `source` names it in errors. Throws ConfigError. */
  static parse(bytes: Uint8Array, source: string, readableByOthers = false): Credentials {
    const entries: Entry[] = [];
    const lines = splitLines(bytes);
    for (const [index, line] of lines.entries()) {
      if (line.length === 0) continue;
      const fail = (problem: string): never => {
        throw new ConfigError(`${source}: line ${index + 1}: ${problem}`);
      };
      const colon = line.indexOf(COLON);
      if (colon === -1) fail("expected user:password");
      const user = Buffer.from(line.subarray(0, colon));
      const password = line.subarray(colon + 1);
      if (user.length === 0) fail("the user name is empty");
      if (user.includes(SPACE)) fail("a user name can't contain a space (clients send '<user> <password>')");
      if (password.length === 0) fail("the password is empty");
      const name = user.toString("utf8");
      if (entries.some((entry) => entry.user === name)) fail(`user '${name}' is listed twice`);
      entries.push({ user: name, userDigest: digest(user), passwordDigest: digest(password) });
    }
    if (entries.length === 0) throw new ConfigError(`${source}: no users (expected user:password lines)`);
    return new Credentials(entries, readableByOthers);
  }

  get userCount(): number {
    return this.entries.length;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /**
   * The user a `<user> <password>` token (an authenticating set's data) names, if the password is
   * theirs; otherwise null. The password is everything after the first space.
   */
  check(token: Uint8Array): string | null {
    const space = token.indexOf(SPACE);
    if (space <= 0) return null;
    const user = digest(token.subarray(0, space));
    const password = digest(token.subarray(space + 1));
    let found: string | null = null;
    for (const entry of this.entries) {
      const userMatches = timingSafeEqual(user, entry.userDigest);
      const passwordMatches = timingSafeEqual(password, entry.passwordDigest);
      if (userMatches && passwordMatches) found = entry.user;
    }
    return found;
  }
}

/** Reads and parses the auth file at `path`. Throws ConfigError naming the file. */
export function readAuthFile(path: string): Credentials {
  let bytes: Buffer;
  let mode: number;
  try {
    bytes = readFileSync(path);
    mode = statSync(path).mode;
  } catch (error) {
    throw new ConfigError(`${path}: cannot read auth_file: ${errorText(error)}`);
  }
  return Credentials.parse(bytes, path, (mode & 0o077) !== 0);
}

/** Lines without their `\n` or `\r\n`. */
function splitLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    const stop = end > start && bytes[end - 1] === CR ? end - 1 : end;
    lines.push(bytes.subarray(start, stop));
    start = end + 1;
  }
  return lines;
}

function digest(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}
