/**
 * One server per queue_path: `queue_path/.lock` names the process that owns the directory.
 *
 * The lock is created with O_EXCL and records the owner's pid and command line. A lock whose
 * process is gone, or is now another program (the pid was reused), or is this very pid (an earlier
 * run in a restarted container), is stale: it is logged and taken over, so a server killed with
 * -9 doesn't keep its directory locked.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.ts";

export class DirectoryLockedError extends Error {}

export const LOCK_FILE = ".lock";

interface Owner {
  readonly pid: number;
  readonly cmdline: string;
}

function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return null;
  }
}

function readOwner(path: string): Owner | null {
  try {
    const owner = JSON.parse(readFileSync(path, "utf8")) as Partial<Owner>;
    return typeof owner.pid === "number" && typeof owner.cmdline === "string" ? (owner as Owner) : null;
  } catch {
    return null;
  }
}

/** Takes the lock on `dir`; returns the function that releases it. */
export function lockDirectory(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid, cmdline: commandLineOf(process.pid) ?? process.argv.join("\0") };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readOwner(path);
      // The same pid is an earlier run of this very process (pid 1 in a restarted container).
      if (owner !== null && owner.pid !== process.pid && commandLineOf(owner.pid) === owner.cmdline) {
        throw new DirectoryLockedError(`${dir} is in use by another kestrel (pid ${owner.pid}); stop it or use another queue_path`);
      }
      log.warn(`${path} was left by a kestrel that is gone${owner === null ? "" : ` (pid ${owner.pid})`}; taking the directory over`);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return () => {
      if (readOwner(path)?.pid === me.pid) rmSync(path, { force: true });
    };
  }
  throw new DirectoryLockedError(`could not take the lock ${path}`);
}
