/**
 * The native bench's scenarios, each named by the load it runs. `10+10` is 10 producers and 10
 * consumers, closed loop, on one queue, 1 KiB items, one put per write, plain takes; each modifier
 * after a `/` changes one thing: `reliable` (reliable reads: `get q/close/open`), `pipe16` (16 puts
 * per write), `q100` (100 queues, each side's connections spread over them), `64k` (64 KiB items).
 * A bare `10` means `10+10`.
 *
 * Invariant: `parseScenario(s).name` is the canonical spelling (modifiers in the order above), so
 * two spellings of one load are one scenario, and `parseScenario(name)` gives the scenario back.
 */
import { SettingsError } from "./settings.ts";

export interface Scenario {
  readonly name: string;
  readonly producers: number;
  readonly consumers: number;
  readonly reliable: boolean;
  /** Puts per write. */
  readonly pipeline: number;
  readonly queues: number;
  readonly itemSize: number;
}

/** What `npm run bench` runs unless BENCH_SCENARIOS says otherwise. */
export const DEFAULT_SCENARIOS: readonly string[] = [
  "1+1",
  "10+10",
  "50+50",
  "200+200",
  "10+10/reliable",
  "50+50/reliable",
  "10+10/pipe16",
  "50+50/q100",
  "200+200/q100",
  "10+10/64k",
];

const KIB = 1024;
const MAX_CONNECTIONS = 10_000;

/** The scenario `text` names. Throws a SettingsError saying what is wrong with it. */
export function parseScenario(text: string): Scenario {
  const [sides = "", ...modifiers] = text.trim().split("/");
  const counts = /^(\d+)(?:\+(\d+))?$/.exec(sides);
  const refuse = (why: string) => new SettingsError(`scenario "${text}": ${why}`);
  if (counts === null) throw refuse(`expected <producers>+<consumers> (or one number for both) first`);
  const producers = Number(counts[1]);
  const consumers = Number(counts[2] ?? counts[1]);
  if (producers + consumers === 0 || producers > MAX_CONNECTIONS || consumers > MAX_CONNECTIONS) throw refuse(`connections must be 0 to ${MAX_CONNECTIONS} a side, not both 0`);
  let reliable = false;
  let pipeline = 1;
  let queues = 1;
  let itemSize = KIB;
  for (const modifier of modifiers) {
    const number = (prefix: string, suffix = "") => Number(modifier.slice(prefix.length, modifier.length - suffix.length));
    if (modifier === "reliable") reliable = true;
    else if (/^pipe[1-9]\d*$/.test(modifier)) pipeline = number("pipe");
    else if (/^q[1-9]\d*$/.test(modifier)) queues = number("q");
    else if (/^[1-9]\d*k$/.test(modifier)) itemSize = number("", "k") * KIB;
    else throw refuse(`unknown modifier "${modifier}" (expected reliable, pipe<n>, q<n> or <n>k)`);
  }
  const scenario = { producers, consumers, reliable, pipeline, queues, itemSize };
  return { name: scenarioName(scenario), ...scenario };
}

/** Scenario names separated by commas or spaces. Throws a SettingsError for a bad one or a repeat. */
export function parseScenarioList(text: string): Scenario[] {
  const scenarios = text.split(/[\s,]+/).filter((part) => part !== "").map(parseScenario);
  if (scenarios.length === 0) throw new SettingsError(`no scenario in "${text}"`);
  const names = scenarios.map((scenario) => scenario.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) throw new SettingsError(`scenario ${repeated} is listed twice`);
  return scenarios;
}

/** The canonical name of a load. */
export function scenarioName(load: Omit<Scenario, "name">): string {
  const modifiers = [
    load.reliable ? "reliable" : "",
    load.pipeline > 1 ? `pipe${load.pipeline}` : "",
    load.queues > 1 ? `q${load.queues}` : "",
    load.itemSize !== KIB ? `${load.itemSize / KIB}k` : "",
  ];
  return [`${load.producers}+${load.consumers}`, ...modifiers.filter((m) => m !== "")].join("/");
}

/** The same load with plain takes: what a reliable scenario is compared with; null for a plain one. */
export function plainTwin(scenario: Scenario): string | null {
  return scenario.reliable ? scenarioName({ ...scenario, reliable: false }) : null;
}
