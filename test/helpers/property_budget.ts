/**
 * How long the protocol fuzzers run and which cases they try, read from the environment, and a
 * cap on shrinking for any property test.
 *
 *   KESTREL_FUZZ_RUNS     cases per property (default: the property's own, seconds in all)
 *   KESTREL_FUZZ_SECONDS  run each property for this long instead, as many cases as fit
 *   KESTREL_FUZZ_SEED     which cases (default 1; with KESTREL_FUZZ_SECONDS a random one, in the
 *                         test's name)
 *   KESTREL_FUZZ_PATH     with the seed of a reported failure, replays just that case
 *
 * A failure prints fast-check's shrunk counterexample with its seed and path. Under
 * KESTREL_FUZZ_SECONDS shrinking ends with the time too, so a late failure is shrunk less: replay
 * it with its seed and path.
 */
import fc from "fast-check";

/** Shrinking a fuzzer's failure stops after this long; the smallest case found so far is reported. */
const SHRINK_BUDGET_MS = 30_000;

export interface FuzzBudget {
  readonly parameters: fc.Parameters<unknown>;
  /** For bun test: the run, the shrinking and some slack. */
  readonly timeoutMs: number;
  /** Runs or seconds, and the seed, for the test's name. */
  readonly label: string;
}

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number, got "${text}"`);
  return value;
}

/** `defaultRuns` cases (about `msPerRun` each) unless the environment says otherwise. */
export function fuzzBudget(defaultRuns: number, msPerRun: number): FuzzBudget {
  const seconds = envNumber("KESTREL_FUZZ_SECONDS");
  const seed = envNumber("KESTREL_FUZZ_SEED") ?? (seconds === undefined ? 1 : Math.floor(Math.random() * 2 ** 31));
  const path = process.env.KESTREL_FUZZ_PATH || undefined;
  if (seconds !== undefined) {
    return {
      parameters: { seed, path, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000 },
      timeoutMs: seconds * 1000 + SHRINK_BUDGET_MS,
      label: `${seconds} s, seed ${seed}`,
    };
  }
  const runs = envNumber("KESTREL_FUZZ_RUNS") ?? defaultRuns;
  return { parameters: { seed, path, numRuns: runs }, timeoutMs: runs * msPerRun * 4 + 2 * SHRINK_BUDGET_MS, label: `${runs} runs, seed ${seed}` };
}

/**
 * Runs `property` as `budget` says; throws fast-check's report of a failure, else writes how many
 * cases passed to stderr (under KESTREL_FUZZ_SECONDS that is the figure worth knowing).
 */
export async function assertFuzz<Ts>(property: fc.IAsyncProperty<Ts>, budget: FuzzBudget, name: string): Promise<void> {
  const details = await fc.check(property, budget.parameters as fc.Parameters<Ts>);
  if (details.failed) {
    const failure = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${await fc.asyncDefaultReportMessage(details)}\nFailure: ${failure}`);
  }
  process.stderr.write(`${name}: ${details.numRuns} cases passed\n`);
}

/** `check`, whose failures fuzzBudget's runs shrink for at most SHRINK_BUDGET_MS. */
export function fuzzCheck<A extends unknown[]>(check: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return shrinkBudgeted(SHRINK_BUDGET_MS, check);
}

/**
 * `check`, except that once a case has failed and `budgetMs` has passed, every further candidate
 * passes without running: fast-check stops shrinking and reports the smallest failure so far.
 */
export function shrinkBudgeted<A extends unknown[]>(budgetMs: number, check: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let failedAt: number | null = null;
  return async (...args) => {
    if (failedAt !== null && performance.now() - failedAt > budgetMs) return;
    try {
      await check(...args);
    } catch (error) {
      failedAt ??= performance.now();
      throw error;
    }
  };
}
