/**
 * What bench/attacks.ts runs: each attack (bench/attacks/*.ts) reads its knobs from the
 * environment up front, so a bad value fails before any server starts, and becomes a planned
 * attack: a title, its parameters in words, the disk it needs, and a run.
 */
import type { AttackResult } from "./attack_lab.ts";
import { integerSetting } from "./settings.ts";

export interface PlannedAttack {
  /** A few words for the report's first column. */
  readonly title: string;
  /** The parameters in words, for the report. */
  readonly parameters: string;
  /** Disk its data dir takes at most (journals), bytes. */
  readonly diskBytes: number;
  run(): Promise<AttackResult>;
}

/** The environment's knobs; in quick mode (ATTACK_QUICK=1) each defaults to its quick value. */
export class Knobs {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly quick: boolean,
  ) {}

  /** The positive integer in `name`, else `full` (or `quick` in quick mode). */
  count(name: string, full: number, quick: number): number {
    return integerSetting(this.env, name, this.quick ? quick : full, "a positive integer", 1);
  }
}

export type AttackPlan = (knobs: Knobs) => PlannedAttack;
