/**
 * Preloaded into a spawned server (`bun --preload`, see ServerProcess's `faults` option) by tests
 * that inject file-system faults: installs a FaultInjector and sets the faults listed (as JSON,
 * an array of Fault) in the file KESTREL_FAULTS_FILE at start and again on every SIGUSR2, then
 * writes `test faults: <n> set` to stderr, so the test can wait for the change to be in force.
 */
import { readFileSync } from "node:fs";
import { FaultInjector, type Fault } from "./faulty_fs.ts";

const file = process.env.KESTREL_FAULTS_FILE;
if (file === undefined) throw new Error("faulty_fs_preload: KESTREL_FAULTS_FILE is not set");
const injector = FaultInjector.install();

function load(): void {
  let faults: Fault[] = [];
  try {
    faults = JSON.parse(readFileSync(file!, "utf8")) as Fault[];
  } catch {
    // No file yet: no faults.
  }
  injector.set(faults);
  process.stderr.write(`test faults: ${faults.length} set\n`);
}

load();
process.on("SIGUSR2", load);
