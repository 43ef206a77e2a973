/**
 * Which queue names are allowed (shared by config, server, queues and journal file names).
 *
 * A name is also a file name in queue_path, so only [A-Za-z0-9_-] is allowed, plus one `+`
 * between a parent and a fanout child name (`jobs+audit`). Nothing that could escape the
 * directory (`/`, `..`, `~`, NUL, a leading dot) can pass.
 */
const BASE = "[A-Za-z0-9_-]+";
const NAME = new RegExp(`^${BASE}(\\+${BASE})?$`);
const MAX_QUEUE_NAME_LENGTH = 200;

export function isValidQueueName(name: string): boolean {
  return name.length <= MAX_QUEUE_NAME_LENGTH && NAME.test(name);
}

/** The parent of a fanout child (`a` for `a+b`), or null for a plain queue. */
export function fanoutParent(name: string): string | null {
  const plus = name.indexOf("+");
  return plus === -1 ? null : name.slice(0, plus);
}
