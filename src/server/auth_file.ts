/**
 * The auth file (`auth_file`): one `user:password` per line, as `memcached -Y` reads it, and the
 * check of a client's `<user> <password>` token against it.
 *
 * Invariants: a file either loads whole or not at all (the error names the file and line, never a
 * password); a loaded file has at least one user, and no user twice, empty, or with a space in its
 * name (the token splits at the first space, so such a user could never log in).
 *
 * Cost: parsing is O(users) and a check O(1) whatever the number of users (one entry looked at,
 * `entriesLookedAt` counts them): the entries are in a Map keyed by the SHA-256 digest of the
 * user name. A check used to compare the token with every entry, 2.9 ms at 20,000 users, which a
 * stranger sending wrong passwords turned into a busy server; parsing checked each line against
 * every earlier user, 1.5-2.8 s of one turn at 20,000 users (docs/security.md has the figures).
 *
 * Timing: a check digests the token's user and password (SHA-256) whatever they are, looks the
 * user's digest up, and compares the password's digest with the entry's in constant time
 * (`timingSafeEqual`); an unknown user is compared with a stand-in entry whose digest no password
 * has, so a wrong password and an unknown user do the same work. What differs is the Map finding
 * a key or not, tens of nanoseconds against a network's jitter of tens of microseconds; and the
 * Map compares digests, not names, so how much of a guessed name was right shows nowhere.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "../config/load.ts";
import { errorText } from "../errors.ts";

const NEWLINE = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
/** Decodes user names as `Buffer#toString("utf8")` would (invalid bytes become U+FFFD), without a copy. */
const UTF8 = new TextDecoder();

interface Entry {
  /** Null for the stand-in an unknown user is compared with. */
  readonly user: string | null;
  readonly passwordDigest: Uint8Array;
}

/** Compared with when the user is unknown: random bytes, which no password's digest is. */
const NO_ONE: Entry = { user: null, passwordDigest: randomBytes(32) };

/** Entries looked at by parses (one per line, for duplicates) and checks (one each), ever; for tests. */
let looked = 0;

export function entriesLookedAt(): number {
  return looked;
}

export class Credentials {
  private constructor(
    /** Entries by the SHA-256 digest of the user name (see `userKey`). */
    private readonly byUser: ReadonlyMap<string, Entry>,
    /** The user names, for `has` (asked at every command of an authenticated connection: no digest). */
    private readonly users: ReadonlySet<string>,
    /** The file can be read by users other than its owner (its mode has group or other bits). */
    readonly readableByOthers: boolean,
  ) {}

  /** Parses the bytes of an auth file; `source` names it in errors. O(lines). Throws ConfigError. */
  static parse(bytes: Uint8Array, source: string, readableByOthers = false): Credentials {
    const byUser = new Map<string, Entry>();
    const users = new Set<string>();
    const lines = splitLines(bytes);
    for (const [index, line] of lines.entries()) {
      if (line.length === 0) continue;
      const fail = (problem: string): never => {
        throw new ConfigError(`${source}: line ${index + 1}: ${problem}`);
      };
      const colon = line.indexOf(COLON);
      if (colon === -1) fail("expected user:password");
      const user = line.subarray(0, colon);
      const password = line.subarray(colon + 1);
      if (user.length === 0) fail("the user name is empty");
      if (user.includes(SPACE)) fail("a user name can't contain a space (clients send '<user> <password>')");
      if (password.length === 0) fail("the password is empty");
      const name = UTF8.decode(user);
      looked++;
      if (users.has(name)) fail(`user '${name}' is listed twice`);
      users.add(name);
      byUser.set(userKey(user), { user: name, passwordDigest: digest(password) });
    }
    if (byUser.size === 0) throw new ConfigError(`${source}: no users (expected user:password lines)`);
    return new Credentials(byUser, users, readableByOthers);
  }

  get userCount(): number {
    return this.byUser.size;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /**
   * The user a `<user> <password>` token (an authenticating set's data) names, if the password is
   * theirs; otherwise null. The password is everything after the first space. O(1): one entry
   * (or the stand-in) looked at, its password digest compared in constant time.
   */
  check(token: Uint8Array): string | null {
    const space = token.indexOf(SPACE);
    if (space <= 0) return null;
    const entry = this.byUser.get(userKey(token.subarray(0, space))) ?? NO_ONE;
    looked++;
    const passwordMatches = timingSafeEqual(digest(token.subarray(space + 1)), entry.passwordDigest);
    return passwordMatches ? entry.user : null;
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

/** SHA-256 (Bun's own: a fifth of `createHash`'s time, which at 40,000 digests a parse is 20-35 ms). */
function digest(bytes: Uint8Array): Uint8Array {
  return Bun.SHA256.hash(bytes) as Uint8Array;
}

/** The Map key of a user name's bytes: its SHA-256 digest, as a 32-character latin1 string. */
function userKey(user: Uint8Array): string {
  return Bun.SHA256.hash(user, "latin1");
}
