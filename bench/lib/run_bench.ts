/**
 * The entry point every benchmark script shares: runs its main function, and on success, failure,
 * Ctrl-C or SIGTERM kills the servers it started and removes its temp dirs (`cleanUpNow`).
 * A `SettingsError` is reported as its message alone; anything else with its stack.
 */
import { SettingsError } from "./settings.ts";
import { cleanUpNow } from "./targets.ts";

export async function runBench(main: () => Promise<void>, onSignal: string): Promise<void> {
  process.on("exit", cleanUpNow);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: ${onSignal}`);
      cleanUpNow();
      process.exit(code);
    });
  }
  try {
    await main();
  } catch (error) {
    const text = error instanceof SettingsError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.error(`bench failed: ${text}`);
    cleanUpNow();
    process.exit(1);
  }
}
