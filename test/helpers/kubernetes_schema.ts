/**
 * Checks a Kubernetes manifest against the API's own schemas (the `kubernetes-models` package),
 * and refuses fields those schemas don't declare. The schemas accept any extra field, so a
 * misspelt `readinesProbe` passes them; the API server refuses it (strict field validation,
 * kubectl's default since Kubernetes 1.27), so these checks must too.
 *
 * Unknown fields are found by watching the schema's validator read the manifest: a generated
 * validator reads every property its schema declares and enumerates the keys of free-form maps
 * (labels, annotations, ConfigMap data). A key of an object that was neither read nor enumerated
 * is one the schema doesn't know. Never throws: every problem is one line in the returned list.
 */
import { StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";

/** The kinds deploy/kubernetes/ uses, by `apiVersion/kind`. */
const MODELS: Readonly<Record<string, { readonly prototype: { validate(): void } }>> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

/** What is wrong with `manifest` as a Kubernetes object: schema errors and unknown fields. */
export function manifestProblems(manifest: unknown): string[] {
  if (!isRecord(manifest)) return ["not a YAML mapping"];
  const type = `${String(manifest.apiVersion)}/${String(manifest.kind)}`;
  const model = MODELS[type];
  if (model === undefined) return [`no schema here for ${type}`];
  const watched = watchReads(manifest);
  const problems: string[] = [];
  try {
    model.prototype.validate.call(watched.root);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return [...problems, ...watched.unread().map((path) => `${path}: unknown field`)];
}

interface Watch {
  readonly path: string;
  readonly target: Record<string, unknown>;
  readonly read: Set<string>;
  enumerated: boolean;
}

/**
 * A proxy of `value` that records which keys of each object in it are read or enumerated. Each
 * object gets one proxy, however often it is read, so every read of it counts.
 */
function watchReads(value: Record<string, unknown>): { root: object; unread: () => string[] } {
  const watches: Watch[] = [];
  const proxies = new WeakMap<object, object>();
  const wrap = (node: unknown, path: string): unknown => {
    if (typeof node !== "object" || node === null) return node;
    const known = proxies.get(node);
    if (known !== undefined) return known;
    const watch: Watch | null = Array.isArray(node) ? null : { path, target: node as Record<string, unknown>, read: new Set(), enumerated: false };
    if (watch !== null) watches.push(watch);
    const proxy = new Proxy(node, {
      get(target, key, receiver) {
        if (typeof key !== "string") return Reflect.get(target, key, receiver);
        watch?.read.add(key);
        return wrap(Reflect.get(target, key, receiver), `${path}/${key}`);
      },
      has(target, key) {
        if (typeof key === "string") watch?.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        if (watch !== null) watch.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(node, proxy);
    return proxy;
  };
  const root = wrap(value, "") as object;
  const unread = () =>
    watches
      .filter((watch) => !watch.enumerated)
      .flatMap((watch) => Object.keys(watch.target).filter((key) => !watch.read.has(key)).map((key) => `${watch.path}/${key}`));
  return { root, unread };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
