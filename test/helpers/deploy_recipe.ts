/**
 * The deployment recipe as data for tests: the manifests in deploy/kubernetes/ parsed from YAML,
 * the pod's config read from the ConfigMap by the server's own loader, and the instructions of
 * deploy/Containerfile. Read-only; throws, naming the file, if one can't be parsed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { parseAllDocuments } from "yaml";
import { CONFIG_KEY } from "../../deploy/kubernetes/generate.ts";
import { parseConfig, type KestrelConfig } from "../../src/config/load.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const KUBERNETES_DIR = join(ROOT, "deploy", "kubernetes");
export const CONTAINERFILE = join(ROOT, "deploy", "Containerfile");

/** Not a Kubernetes object: kustomize's list of the others. */
export const KUSTOMIZATION = "kustomization.yaml";

export interface Manifest {
  readonly file: string;
  readonly object: Record<string, unknown>;
}

/** The YAML files of deploy/kubernetes/ that hold Kubernetes objects. */
export function manifestFiles(): string[] {
  return readdirSync(KUBERNETES_DIR)
    .filter((name) => name.endsWith(".yaml") && name !== KUSTOMIZATION)
    .sort();
}

/** Every object of every manifest file (a file may hold several `---` documents). */
export function loadManifests(): Manifest[] {
  return manifestFiles().flatMap((file) => parseYamlDocuments(file).map((object) => ({ file, object: object as Record<string, unknown> })));
}

/** Each YAML document of a file in deploy/kubernetes/ as plain data. Throws on any YAML error. */
export function parseYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(KUBERNETES_DIR, file), "utf8")).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    return document.toJS() as unknown;
  });
}

/** The one object of `kind`; throws if there is none or more than one. */
export function onlyOf<T>(manifests: readonly Manifest[], kind: string): T {
  const found = manifests.filter((manifest) => manifest.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in deploy/kubernetes/, found ${found.length}`);
  // The caller names the kind; manifestProblems checks each object against its schema.
  return found[0]!.object as T;
}

/** The StatefulSet's one container. */
export function serverContainer(statefulSet: IStatefulSet): IContainer {
  const containers = statefulSet.spec?.template.spec?.containers ?? [];
  if (containers.length !== 1) throw new Error(`expected one container in the StatefulSet, found ${containers.length}`);
  return containers[0]!;
}

/** The value after `--config` in the server container's arguments: where it reads its config. */
export function configPathArgument(container: IContainer): string {
  const args = container.args ?? [];
  const at = args.indexOf("--config");
  if (at === -1 || at + 1 >= args.length) throw new Error(`the container's args name no --config file: ${JSON.stringify(args)}`);
  return args[at + 1]!;
}

export interface PodConfig {
  /** The ConfigMap's kestrel.toml. */
  readonly text: string;
  /** Where the container is told to read it. */
  readonly path: string;
  /** What the server makes of it there. */
  readonly config: KestrelConfig;
}

/** The pod's config, parsed by the server's own loader as the file the container reads. */
export function podConfig(manifests: readonly Manifest[]): PodConfig {
  const text = onlyOf<IConfigMap>(manifests, "ConfigMap").data?.[CONFIG_KEY];
  if (text === undefined) throw new Error(`the ConfigMap has no ${CONFIG_KEY}`);
  const path = configPathArgument(serverContainer(onlyOf<IStatefulSet>(manifests, "StatefulSet")));
  return { text, path, config: parseConfig(text, path) };
}

export interface Instruction {
  /** Upper case, as `FROM`, `COPY`. */
  readonly name: string;
  /** Everything after the name, continuation lines joined. */
  readonly args: string;
}

/** A Containerfile's instructions in order: comments and blank lines dropped, `\` lines joined. */
export function containerfileInstructions(text: string): Instruction[] {
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return logical
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [name, ...rest] = line.split(/\s+/);
      return { name: name!.toUpperCase(), args: rest.join(" ") };
    });
}

/** The instructions of the last build stage (the image that runs). */
export function finalStage(instructions: readonly Instruction[]): Instruction[] {
  const lastFrom = instructions.map((instruction) => instruction.name).lastIndexOf("FROM");
  return instructions.slice(lastFrom);
}

/** An instruction's exec-form arguments (`["a", "b"]`); throws on the shell form. */
export function execForm(instruction: Instruction): string[] {
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((arg) => typeof arg === "string")) throw new Error(`${instruction.name} is not in exec form: ${instruction.args}`);
  return parsed;
}

/** A Kubernetes quantity ("512Mi", "1Gi", "10G", "500m") as a number of units. */
export function quantity(text: string | number): number {
  if (typeof text === "number") return text;
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (match === null) throw new Error(`not a quantity: ${text}`);
  const factors: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(match[1]) * (match[2] === undefined ? 1 : factors[match[2]]!);
}
