/**
 * The soak test's config files: every one valid, each with limits drawn at random so that reloads
 * and restarts change them while items flow.
 *
 * Journal segments and the memory budget stay small (rotations, compactions and read-behind all
 * the time). Only `mail` gets item-count and item-size limits: a refusal there is NOT_STORED,
 * never a loss. `slow` caps item age and moves expired items to `parked`, which has no limits, so
 * nothing is dropped for want of room. The fanout child `jobs+audit` inherits `jobs`.
 */

const SYNC = ['"never"', '"always"', '"10ms"', "false", "true"];
const JOURNAL_SIZES = ['"4KiB"', '"16KiB"', '"64KiB"', '"256KiB"'];
const OVERFLOWS = ["2", "3", "10"];
const MEMORY_SIZES = ['"8KiB"', '"32KiB"', '"128KiB"', '"1MiB"'];
const MAIL_ITEMS = ['"unlimited"', "500", "5000"];
const MAIL_ITEM_SIZES = ['"unlimited"', '"32KiB"'];
const MAX_AGES = ['"800ms"', '"2s"'];

/** A config in TOML for the queues `jobs` (with `jobs+audit`), `mail`, `slow` and `parked`. */
export function soakConfig(random: () => number): string {
  const pick = (values: readonly string[]) => values[Math.floor(random() * values.length)]!;
  return [
    `expiration_timer_frequency = "200ms"`,
    `sync_journal = ${pick(SYNC)}`,
    `max_journal_size = ${pick(JOURNAL_SIZES)}`,
    `max_journal_overflow = ${pick(OVERFLOWS)}`,
    `max_memory_size = ${pick(MEMORY_SIZES)}`,
    ``,
    `[queues.jobs]`,
    `sync_journal = ${pick(SYNC)}`,
    `max_journal_size = ${pick(JOURNAL_SIZES)}`,
    ``,
    `[queues.mail]`,
    `max_items = ${pick(MAIL_ITEMS)}`,
    `max_item_size = ${pick(MAIL_ITEM_SIZES)}`,
    `max_memory_size = ${pick(MEMORY_SIZES)}`,
    ``,
    `[queues.slow]`,
    `max_age = ${pick(MAX_AGES)}`,
    `move_expired_to = "parked"`,
    ``,
  ].join("\n");
}
