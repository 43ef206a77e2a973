/**
 * Command-line plumbing shared by the commands: usage errors and the one-line failure format.
 *
 * Exit codes: 0 success, 1 runtime failure (damage found by `qdump --verify`; a server that
 * `status`, `cluster` or `drain` could not reach or that refused; a drain that timed out), 2 bad
 * usage or bad config, 129 terminal gone during setup, 130 setup cancelled (Ctrl-C).
 */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;
export const EXIT_HANGUP = 129;

export function fail(code: number, message: string): never {
  process.stderr.write(`kestrel: ${message}\n`);
  process.exit(code);
}
