/**
 * The server's status (Kestrel 2's `ServerStatus`): what it means for sets and gets, and its
 * persistence in `queue_path/.kestrel/status`.
 *
 *   up          everything allowed
 *   writeavoid  everything allowed; clients should prefer other servers for writes
 *   readonly    sets refused, gets served: the server drains
 *   quiescent   sets and gets refused: the server is empty and can go
 *
 * The command layer asks `writeRefusal`/`readRefusal` before it adds or hands out an item, so a
 * refusal is the same whatever asked. Invariants: a change is on disk (file and directory
 * fsynced, replaced atomically) before it takes effect, and one that can't be written takes no
 * effect; every change is logged with who made it; a start finds the last status that took effect,
 * or, with none saved, `default_status`. A saved file that can't be read or parsed is not guessed
 * at: the server starts at least `readonly` (nothing new lands on a server an operator may be
 * taking away, and what it holds can still drain), logs the error and leaves the file for the
 * operator until the next change replaces it.
 */
import { join } from "node:path";
import { SERVER_STATUSES, type ServerStatusName } from "../config/schema.ts";
import { errorText } from "../errors.ts";
import { serverFilePath } from "../journal/data_directory.ts";
import { fileSystem, removeQuietly, replaceFileAtomically } from "../journal/files.ts";
import { log } from "../log.ts";

const STATUS_FILE = "status";
/** The status a server starts at (at least) when its saved status can't be read. */
const UNREADABLE_FALLBACK: ServerStatusName = "readonly";

/** `text` as a status, in any case and with surrounding spaces; null if it names none. */
export function parseStatus(text: string): ServerStatusName | null {
  const name = text.trim().toLowerCase();
  return (SERVER_STATUSES as readonly string[]).includes(name) ? (name as ServerStatusName) : null;
}

/** The stricter of two statuses (SERVER_STATUSES lists them least strict first). */
export function stricter(a: ServerStatusName, b: ServerStatusName): ServerStatusName {
  return SERVER_STATUSES.indexOf(a) >= SERVER_STATUSES.indexOf(b) ? a : b;
}

export function blocksWrites(status: ServerStatusName): boolean {
  return status === "readonly" || status === "quiescent";
}

export function blocksReads(status: ServerStatusName): boolean {
  return status === "quiescent";
}

export class ServerStatus {
  private constructor(
    private readonly path: string,
    private status: ServerStatusName,
    /** Called after a change that blocks reads: blocking gets waiting then must be ended. */
    private readonly onReadsBlocked: () => void,
  ) {}

  /**
   * The status saved in `queuePath`, or `defaultStatus` when none is. Never throws: a saved status
   * that can't be read is logged and replaced by the safe fallback (see the header).
   */
  static load(queuePath: string, defaultStatus: ServerStatusName, onReadsBlocked: () => void): ServerStatus {
    const path = serverFilePath(queuePath, STATUS_FILE);
    removeLeftoverTemps(queuePath);
    return new ServerStatus(path, restore(path, defaultStatus), onReadsBlocked);
  }

  get current(): ServerStatusName {
    return this.status;
  }

  /** Why a set is refused now, or null. */
  writeRefusal(): string | null {
    return blocksWrites(this.status) ? `server is ${this.status}: sets are refused` : null;
  }

  /** Why a get that hands out or shows an item is refused now, or null. */
  readRefusal(): string | null {
    return blocksReads(this.status) ? `server is ${this.status}: gets are refused` : null;
  }

  /**
   * Saves `next` and makes it the status; `by` says who asked (logged). Returns null, or why the
   * status could not be saved; then nothing changed. Never throws.
   */
  change(next: ServerStatusName, by: string): string | null {
    const previous = this.status;
    try {
      replaceFileAtomically(this.path, [Buffer.from(`${next}\n`)]);
    } catch (error) {
      const reason = `status not changed: can't save it in ${this.path}: ${errorText(error)}`;
      log.error(`${reason} (asked for '${next}' by ${by})`);
      return reason;
    }
    this.status = next;
    log.info(`status changed from '${previous}' to '${next}' by ${by}`);
    if (blocksReads(next) && !blocksReads(previous)) this.onReadsBlocked();
    return null;
  }
}

/** The saved status, or the default (nothing saved) or fallback (unreadable); logs which. */
function restore(path: string, defaultStatus: ServerStatusName): ServerStatusName {
  let text: string;
  try {
    if (fileSystem.stat(path) === null) {
      log.info(`status '${defaultStatus}' (default_status; none saved in ${path})`);
      return defaultStatus;
    }
    text = Buffer.from(fileSystem.readFile(path)).toString("latin1");
  } catch (error) {
    return fallback(path, defaultStatus, `can't read it: ${errorText(error)}`);
  }
  const saved = parseStatus(text);
  if (saved === null) return fallback(path, defaultStatus, `it holds ${JSON.stringify(text.slice(0, 40))}, not a status`);
  log.info(`status '${saved}' restored from ${path}`);
  return saved;
}

function fallback(path: string, defaultStatus: ServerStatusName, problem: string): ServerStatusName {
  const status = stricter(UNREADABLE_FALLBACK, defaultStatus);
  log.error(`saved status in ${path} ignored, ${problem}; starting '${status}' until a status is set (status <new>, PUT /status)`);
  return status;
}

/** Temp files of a status write cut short by a crash (files.ts `tempPathFor` names them `.status.*.tmp`). */
function removeLeftoverTemps(queuePath: string): void {
  const dir = serverFilePath(queuePath, "");
  try {
    if (fileSystem.stat(dir) === null) return;
    for (const entry of fileSystem.readdir(dir)) {
      if (entry.name.startsWith(`.${STATUS_FILE}.`) && entry.name.endsWith(".tmp")) removeQuietly(join(dir, entry.name));
    }
  } catch (error) {
    log.warn(`could not look for leftover status temp files in ${dir}: ${errorText(error)}`);
  }
}
