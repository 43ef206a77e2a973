/**
 * The log lines of journal faults: a journal failing and working again, and its upkeep's retries,
 * rebuilds and repairs. A fault of many queues at once (the disk full, queue_path deleted, no
 * descriptors left, under 10,000 queues) logs the first LINES_PER_INTERVAL lines of each kind
 * every 10 s as they come and counts the rest (repeated_log.ts), so it makes a few dozen lines,
 * not one or two per queue. `reportFaultLines` writes the counts not written yet (at a stop, after
 * the queues' last repairs, so none is lost).
 */
import { log } from "../log.ts";
import { RepeatedLog } from "../repeated_log.ts";

/** Lines of each kind logged as they come, each interval; the rest are counted. */
const LINES_PER_INTERVAL = 10;

export const faultErrors = new RepeatedLog(log.error, undefined, LINES_PER_INTERVAL);
export const faultWarnings = new RepeatedLog(log.warn, undefined, LINES_PER_INTERVAL);
export const faultNotices = new RepeatedLog(log.info, undefined, LINES_PER_INTERVAL);

/** Writes the counts of the fault lines left out. */
export function reportFaultLines(): void {
  faultErrors.report();
  faultWarnings.report();
  faultNotices.report();
}
