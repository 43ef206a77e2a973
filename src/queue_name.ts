/**
 * Queue names: which are allowed, fanout parents, and the file name each one maps to (shared by
 * config, server, queues and journal files).
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
/** Characters written as themselves in a file name. */
const PLAIN = /^[A-Za-z0-9_+-]$/;
export const MAX_FILE_NAME_LENGTH = 200;
/** The rule, in words, for error messages. */
export const QUEUE_NAME_RULE = "printable ASCII without whitespace, '.', '/' or '~', at most 200 characters, each but A-Z a-z 0-9 _ - + counting three";
/** Names the data directory keeps for itself (lower case): the journal import's `imported/`. */
export const RESERVED_FILE_NAMES: readonly string[] = ["imported"];

export function isValidQueueName(name: string): boolean {
  return name.length <= MAX_FILE_NAME_LENGTH && NAME.test(name) && queueFileName(name).length <= MAX_FILE_NAME_LENGTH;
}

/** The parent of a fanout child (`a` for `a+b` and `a+b+c`), or null for a plain queue. */
export function fanoutParent(name: string): string | null {
  const plus = name.indexOf("+");
  return plus > 0 ? name.slice(0, plus) : null;
}

/** The file name of queue `name` (a valid name) in queue_path. */
export function queueFileName(name: string): string {
  let file = "";
  for (const char of name) file += PLAIN.test(char) ? char : escape(char);
  return RESERVED_FILE_NAMES.includes(file.toLowerCase()) ? escape(file[0]!) + file.slice(1) : file;
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
