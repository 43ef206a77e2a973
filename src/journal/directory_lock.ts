/**
 * One server per queue_path: a lock file names the process that owns the directory.
 *
 * The lock is created with O_EXCL and records the owner's pid and command line. A lock whose
 * process is gone, or is now another program (the pid was reused), or is this very pid (an earlier
 * run in a restarted container), is stale: it is logged and taken over, so a server killed with
 * -9 doesn't keep its directory locked. While the server runs, `verify` puts the lock back if the
 * directory was emptied under it.
 */
import { dirname } from "node:path";
import { errorText } from "../errors.ts";
import { log } from "../log.ts";
import { fileSystem, writeNewFile } from "./files.ts";

export class DirectoryLockedError extends Error {}

interface Owner {
  readonly pid: number;
  readonly cmdline: string;
}

function commandLineOf(pid: number): string | null {
  try {
    return Buffer.from(fileSystem.readFile(`/proc/${pid}/cmdline`)).toString("latin1");
  } catch {
    return null;
  }
}

function readOwner(path: string): Owner | null {
  try {
    const owner = JSON.parse(Buffer.from(fileSystem.readFile(path)).toString("utf8")) as Partial<Owner>;
    return typeof owner.pid === "number" && typeof owner.cmdline === "string" ? (owner as Owner) : null;
  } catch {
    return null;
  }
}

/**
 * Removes the lock at `path` if its owner is gone; throws DirectoryLockedError if another live
 * kestrel holds it. `dir` names the directory in the error.
 */
export function clearStaleLock(path: string, dir: string): void {
  if (fileSystem.stat(path) === null) return;
  const owner = readOwner(path);
  // The same pid is an earlier run of this very process (pid 1 in a restarted container).
  if (owner !== null && owner.pid !== process.pid && commandLineOf(owner.pid) === owner.cmdline) {
    throw new DirectoryLockedError(`${dir} is in use by another kestrel (pid ${owner.pid}); stop it or use another queue_path`);
  }
  log.warn(`${path} was left by a kestrel that is gone${owner === null ? "" : ` (pid ${owner.pid})`}; taking the directory over`);
  fileSystem.remove(path);
}

export class DirectoryLock {
  private readonly me: Owner = { pid: process.pid, cmdline: commandLineOf(process.pid) ?? process.argv.join("\0") };

  /** Takes the lock at `path` (for directory `dir`). Throws DirectoryLockedError or an I/O error. */
  constructor(
    readonly path: string,
    private readonly dir: string,
  ) {
    for (let attempt = 0; attempt < 3; attempt++) {
      clearStaleLock(path, dir);
      if (this.create()) return;
    }
    throw new DirectoryLockedError(`could not take the lock ${path}`);
  }

  /** Puts the lock back if it disappeared (the directory was emptied under the server). Throws for I/O errors. */
  verify(): void {
    if (fileSystem.stat(this.path) !== null) return;
    log.error(`the lock ${this.path} was removed under the running server; taking it again`);
    fileSystem.mkdir(dirname(this.path));
    if (!this.create()) log.error(`${this.path} was taken by another process; two servers may now share ${this.dir}`);
  }

  /** Releases the lock if this process still holds it. Never throws. */
  release(): void {
    try {
      if (readOwner(this.path)?.pid === this.me.pid) fileSystem.remove(this.path);
    } catch (error) {
      log.warn(`could not remove the lock ${this.path}: ${errorText(error)}; the next start takes it over`);
    }
  }

  /**
   * Creates the lock file; false if one appeared meanwhile. Throws an error naming the file for
   * any other failure (a full disk: the write's own error names only the call).
   */
  private create(): boolean {
    try {
      writeNewFile(this.path, [Buffer.from(JSON.stringify(this.me))], "wx");
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw new Error(`could not write the lock ${this.path}: ${errorText(error)}`, { cause: error });
    }
  }
}
