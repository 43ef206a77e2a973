/**
 * The server's two clocks, and which one measures what.
 *
 * Wall time (`Date.now()`, unix ms) is for what is defined in it: item expiry (memcache's exptime
 * is unix seconds), the add times journals keep, the `time` stat, log stamps. It can jump either
 * way (an operator setting it, NTP stepping it, a VM resumed), so nothing that measures elapsed
 * time reads it. Monotonic time never goes back and never jumps: every deadline and elapsed time
 * is measured on it (blocking-get timeouts, `uptime`, the stop grace period, the expiry sweep's
 * schedule). Bun's own timers (setTimeout, setInterval, socket idle timeouts) run on a monotonic
 * clock already.
 *
 * Code that reads a clock takes it as an argument with these as defaults, so a test can pass its
 * own ("time is an argument"). The turns' clock is the exception: the time work has used in an
 * event-loop turn is read by the server's turn scheduler and by the queue's work spread over
 * turns (waking waiters, firing deadlines) alike, so it is one object a test replaces for all.
 */

/** Reads a clock, in milliseconds. */
export type Clock = () => number;

/** Milliseconds since an arbitrary origin, never going back: compare readings, never show one. */
export const monotonicMs: Clock = () => performance.now();

/** The monotonic clock the work of a turn is measured with (a test may set `now` to one it steps itself). */
export const turnClock = { now: (): number => performance.now() };
