/**
 * deploy/Containerfile agrees with the pod: the binary the StatefulSet runs and its preStop calls,
 * the ports and data volume of the pod's config, a non-root user, the config file it serves with
 * when run on its own, and a build context (.dockerignore) that lets in every file it copies.
 * No image is built here (that needs a container engine and the network).
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CONFIG_SOURCE } from "../../deploy/kubernetes/generate.ts";
import {
  CONTAINERFILE,
  ROOT,
  configPathArgument,
  containerfileInstructions,
  execForm,
  finalStage,
  loadManifests,
  onlyOf,
  podConfig,
  serverContainer,
  type Instruction,
} from "../helpers/deploy_recipe.ts";

const instructions = containerfileInstructions(readFileSync(CONTAINERFILE, "utf8"));
const image = finalStage(instructions);
const manifests = loadManifests();
const statefulSet = onlyOf<IStatefulSet>(manifests, "StatefulSet");
const container = serverContainer(statefulSet);
const { server } = podConfig(manifests).config;

function only(name: string): Instruction {
  const found = image.filter((instruction) => instruction.name === name);
  if (found.length !== 1) throw new Error(`expected one ${name} in the final stage, found ${found.length}`);
  return found[0]!;
}

/** The COPY instructions among `stage` that take files from the build context. */
function contextCopies(stage: readonly Instruction[]): { sources: string[]; destination: string }[] {
  return stage
    .filter((instruction) => instruction.name === "COPY" && !instruction.args.includes("--from="))
    .map((instruction) => {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith("--"));
      return { sources: words.slice(0, -1), destination: words.at(-1)! };
    });
}

test("the image runs the binary that the StatefulSet's preStop calls, with no shell in between", () => {
  const [binary] = execForm(only("ENTRYPOINT"));
  expect(binary).toBe("/usr/local/bin/kestrel");
  expect(container.command).toBeUndefined();
  expect(container.lifecycle!.preStop!.exec!.command![0]).toBe(binary!);
  expect(image.some((instruction) => instruction.name === "COPY" && instruction.args.includes("--from=build") && instruction.args.endsWith(` ${binary}`))).toBe(true);
});

test("it starts from a minimal base and runs as the user the pod runs as", () => {
  expect(only("FROM").args).toStartWith("gcr.io/distroless/");
  const [user, group] = only("USER").args.split(":").map(Number);
  const security = statefulSet.spec!.template.spec!.securityContext!;
  expect(user).toBeGreaterThan(0);
  expect(user).toBe(security.runAsUser!);
  expect(group).toBe(security.runAsGroup!);
});

test("it exposes the memcache and admin ports and declares queue_path as a volume", () => {
  expect(only("EXPOSE").args.split(/\s+/).sort()).toEqual([`${server.adminPort}/tcp`, `${server.port}/tcp`].sort());
  expect(execForm(only("VOLUME"))).toEqual([server.queuePath]);
  // The volume's directory is created in the image and owned by the user, for engines that don't set fsGroup.
  const [user] = only("USER").args.split(":");
  expect(image.some((instruction) => instruction.name === "COPY" && instruction.args.includes(`--chown=${user}:`) && instruction.args.endsWith(` ${server.queuePath}`))).toBe(true);
});

test("on its own it serves with the pod's config, at the path where the pod mounts the ConfigMap", () => {
  const configPath = configPathArgument(container);
  expect(execForm(only("CMD"))).toEqual(container.args!);
  expect(contextCopies(image)).toContainEqual({ sources: [CONFIG_SOURCE.slice(ROOT.length + 1)], destination: configPath });
});

test(".dockerignore lets in every file the build copies from the context", () => {
  const allowed = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("!"))
    .map((line) => line.slice(1).replace(/\/$/, ""));
  const sources = contextCopies(instructions).flatMap((copy) => copy.sources);
  expect(sources.length).toBeGreaterThan(0);
  for (const source of sources) expect({ source, allowed: allowed.includes(source.replace(/\/$/, "")) }).toEqual({ source, allowed: true });
});
