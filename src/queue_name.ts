/**
 * Queue names: which are allowed, fanout parents, the order they are listed in, and the file name
 * each one maps to (shared by config, server, queues and journal files).
 *
 * As in Kestrel 2 (QueueCollection.buildQueue), a name is any run of printable characters but
 * `.`, `/` and `~`: here printable ASCII, so no whitespace, control byte or NUL. A `+` makes a
 * fanout child of the queue named by what comes before the first `+` (`jobs+audit` and
 * `jobs+a+b` are children of `jobs`); a name that starts with `+` has no parent.
 *
 * File names: letters, digits, `_`, `-` and `+` stand for themselves, so every name of the older
 * form (`[A-Za-z0-9_-]`, one `+`) keeps the file it always had; any other character is written
 * `%XX` (its code in upper-case hex; `%` itself is `%25`), and so is the first letter of a name
 * that would otherwise be a name the data directory keeps for itself (`imported`, in any case).
 * The mapping is one to one, and a file name maps back only if it is the very one its name maps
 * to, so no other file is taken for a queue. A file name never holds a `.`: the segment suffixes
 * (`<file>.<seq>`) and the server's own `.kestrel/` can't be mistaken for a queue. Names that
 * differ only in case map to files that differ only in case: on a case-insensitive file system
 * the queue collection refuses the second (see QueueCollection).
 *
 * A name is valid only if its file name is at most MAX_FILE_NAME_LENGTH bytes, so a segment's
 * name, a temp file's and a quarantined range's all fit the usual 255-byte limit.
 */
/** Printable ASCII but `.` (reserved by Kestrel), `/` (a path) and `~` (Kestrel's temp files). */
const NAME = /^[\x21-\x2d\x30-\x7d]+$/;
/** A name whose characters all stand for themselves in its file name (the common case, checked per request). */
const ALL_PLAIN = /^[A-Za-z0-9_+-]+$/;
/** A character written `%XX` in a file name. */
const ESCAPED = /[^A-Za-z0-9_+-]/g;
export const MAX_FILE_NAME_LENGTH = 200;
/** The rule, in words, for error messages. */
export const QUEUE_NAME_RULE = "printable ASCII without whitespace, '.', '/' or '~', at most 200 characters, each but A-Z a-z 0-9 _ - + counting three";
/** Names the data directory keeps for itself (lower case): the journal import's `imported/`. */
export const RESERVED_FILE_NAMES: readonly string[] = ["imported"];

export function isValidQueueName(name: string): boolean {
  if (name.length > MAX_FILE_NAME_LENGTH || !NAME.test(name)) return false;
  return ALL_PLAIN.test(name) || fileNameLength(name) <= MAX_FILE_NAME_LENGTH;
}

/** The length of the file name of `name`, which has characters to escape: each takes three. */
function fileNameLength(name: string): number {
  const escaped = name.length - name.replace(ESCAPED, "").length;
  return name.length + 2 * escaped;
}

/** The parent of a fanout child (`a` for `a+b` and `a+b+c`), or null for a plain queue. */
export function fanoutParent(name: string): string | null {
  const plus = name.indexOf("+");
  return plus > 0 ? name.slice(0, plus) : null;
}

/** The file name of queue `name` (a valid name) in queue_path. */
export function queueFileName(name: string): string {
  const file = ALL_PLAIN.test(name) ? name : name.replace(ESCAPED, escape);
  return isReserved(file) ? escape(file[0]!) + file.slice(1) : file;
}

function isReserved(file: string): boolean {
  return RESERVED_FILE_NAMES.some((reserved) => reserved.length === file.length && reserved === file.toLowerCase());
}

/** The queue whose file name is `file`, or null if `file` is no queue's file name. */
export function queueNameOfFile(file: string): string | null {
  if (file.length > MAX_FILE_NAME_LENGTH || !/^(?:[A-Za-z0-9_+-]|%[0-9A-F]{2})+$/.test(file)) return null;
  const name = file.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return isValidQueueName(name) && queueFileName(name) === file ? name : null;
}

function escape(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;
}

/** Orders queue names code unit by code unit: the order reports list queues in. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders queues (or aliases) by name (`compareNames`). */
export function byName(a: { readonly name: string }, b: { readonly name: string }): number {
  return compareNames(a.name, b.name);
}
