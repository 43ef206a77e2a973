/**
 * The questions the first-run setup asks, behind an interface: @clack/prompts on a terminal,
 * a script in tests.
 */
import * as clack from "@clack/prompts";

export const CANCELLED = Symbol("cancelled");
export type Answer<T> = T | typeof CANCELLED;

export interface Choice<T extends string> {
  readonly value: T;
  readonly label: string;
  readonly hint?: string;
}

export interface Asker {
  intro(title: string): void;
  /** Free text; empty input means `fallback`; `validate` returns an error message or undefined. */
  text(message: string, fallback: string, validate: (value: string) => string | undefined): Promise<Answer<string>>;
  select<T extends string>(message: string, choices: readonly Choice<T>[], initial: T): Promise<Answer<T>>;
  confirm(message: string, initial: boolean): Promise<Answer<boolean>>;
  note(message: string, title: string): void;
  warn(message: string): void;
  outro(message: string): void;
  cancel(message: string): void;
}

/**
 * Runs `ask` with the terminal watched: if it goes away (hang-up, end of input, a read error),
 * the process exits at once instead of waiting on a terminal that is no more.
 */
export async function withTerminal<T>(ask: () => Promise<T>, onHangUp: () => never): Promise<T> {
  const hangUp = () => onHangUp();
  process.on("SIGHUP", hangUp);
  process.stdin.on("end", hangUp);
  process.stdin.on("error", hangUp);
  try {
    return await ask();
  } finally {
    process.off("SIGHUP", hangUp);
    process.stdin.off("end", hangUp);
    process.stdin.off("error", hangUp);
  }
}

/** Asks on the terminal with @clack/prompts; Ctrl-C (or Esc) answers CANCELLED. */
export const clackAsker: Asker = {
  intro: (title) => clack.intro(title),
  async text(message, fallback, validate) {
    const answer = await clack.text({ message, placeholder: fallback, defaultValue: fallback, validate: (value) => validate(value || fallback) });
    return clack.isCancel(answer) ? CANCELLED : answer;
  },
  async select<T extends string>(message: string, choices: readonly Choice<T>[], initial: T) {
    const options = choices.map((choice) => ({ value: choice.value, label: choice.label, ...(choice.hint === undefined ? {} : { hint: choice.hint }) }));
    // clack's option type is conditional on the value type; these options are of the plain form.
    const answer = await clack.select<T>({ message, options: options as Parameters<typeof clack.select<T>>[0]["options"], initialValue: initial });
    return clack.isCancel(answer) ? CANCELLED : answer;
  },
  async confirm(message, initial) {
    const answer = await clack.confirm({ message, initialValue: initial });
    return clack.isCancel(answer) ? CANCELLED : answer;
  },
  note: (message, title) => clack.note(message, title),
  warn: (message) => clack.log.warn(message),
  outro: (message) => clack.outro(message),
  cancel: (message) => clack.cancel(message),
};
