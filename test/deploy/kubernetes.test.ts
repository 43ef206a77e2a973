/**
 * deploy/kubernetes/: every manifest is a valid Kubernetes object, the ConfigMap is what
 * generate.ts makes of kestrel.toml, and the manifests agree with that config as the server reads
 * it (ports, probe paths, queue_path, listen addresses, the preStop's access). The last test runs
 * a real server on the pod's config and asks it the probe and scrape paths.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";
import { CONFIG_KEY, CONFIG_MAP_FILE, CONFIG_SOURCE, renderConfigMap } from "../../deploy/kubernetes/generate.ts";
import type { ServerConfig } from "../../src/config/schema.ts";
import { isLoopbackAddress } from "../../src/server/access.ts";
import { KUSTOMIZATION, configPathArgument, loadManifests, manifestFiles, onlyOf, parseYamlDocuments, podConfig, quantity, serverContainer } from "../helpers/deploy_recipe.ts";
import { manifestProblems } from "../helpers/kubernetes_schema.ts";
import { runKestrel, ServerProcess } from "../helpers/server.ts";

const manifests = loadManifests();
const statefulSet = onlyOf<IStatefulSet>(manifests, "StatefulSet");
const service = onlyOf<IService>(manifests, "Service");
const budget = onlyOf<IPodDisruptionBudget>(manifests, "PodDisruptionBudget");
const configMap = onlyOf<IConfigMap>(manifests, "ConfigMap");
const pod = statefulSet.spec!.template;
const container = serverContainer(statefulSet);
const { text: configText, config } = podConfig(manifests);
const server: ServerConfig = config.server;

/** Seconds the server needs after SIGTERM to write and close its journals and exit. */
const SHUTDOWN_SECONDS = 20;

function containerPort(name: string): number {
  const port = container.ports?.find((candidate) => candidate.name === name);
  if (port === undefined) throw new Error(`the container has no port named ${name}`);
  return port.containerPort;
}

describe("the manifests", () => {
  test("are valid Kubernetes objects: the API's schemas, and no field they don't know", () => {
    expect(manifests.map((manifest) => manifest.object.kind).sort()).toEqual(["ConfigMap", "PodDisruptionBudget", "Service", "StatefulSet"]);
    for (const manifest of manifests) expect({ file: manifest.file, problems: manifestProblems(manifest.object) }).toEqual({ file: manifest.file, problems: [] });
  });

  test("the schema check refuses a wrong type and a misspelt field", () => {
    const broken = structuredClone(statefulSet) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    const first = broken.spec.template.spec.containers[0]!;
    first.readinesProbe = first.readinessProbe;
    first.terminationMessagePath = 42;
    const problems = manifestProblems(broken);
    expect(problems).toContain("/spec/template/spec/containers/0/readinesProbe: unknown field");
    expect(problems.some((problem) => problem.includes("terminationMessagePath must be string"))).toBe(true);
  });

  test("kustomization.yaml applies every one of them", () => {
    const [kustomization] = parseYamlDocuments(KUSTOMIZATION) as [{ resources: string[] }];
    expect([...kustomization.resources].sort()).toEqual(manifestFiles());
  });

  test("the headless Service, the StatefulSet and the PodDisruptionBudget select the server pods", () => {
    const podLabels = pod.metadata!.labels!;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => podLabels[key] === value);
    expect(service.spec!.clusterIP).toBe("None");
    expect(statefulSet.spec!.serviceName).toBe(service.metadata!.name!);
    expect(selects(service.spec!.selector!)).toBe(true);
    expect(selects(statefulSet.spec!.selector.matchLabels!)).toBe(true);
    expect(selects(budget.spec!.selector!.matchLabels!)).toBe(true);
    // A draining pod must stay in DNS for its consumers (see service.yaml).
    expect(service.spec!.publishNotReadyAddresses).toBe(true);
  });
});

describe("the ConfigMap", () => {
  test("is what generate.ts makes of deploy/kubernetes/kestrel.toml (run `npm run deploy:config`)", () => {
    const source = readFileSync(CONFIG_SOURCE, "utf8");
    expect(readFileSync(CONFIG_MAP_FILE, "utf8")).toBe(renderConfigMap(source));
    expect(configMap.data![CONFIG_KEY]).toBe(source);
  });

  test("is the file the container is told to read", () => {
    const path = configPathArgument(container);
    const mount = container.volumeMounts!.find((candidate) => candidate.mountPath === dirname(path))!;
    expect(mount).toBeDefined();
    const volume = pod.spec!.volumes!.find((candidate) => candidate.name === mount.name)!;
    expect(volume.configMap?.name).toBe(configMap.metadata!.name!);
    expect(path).toBe(join(mount.mountPath, CONFIG_KEY));
  });

  test("makes the server listen beyond loopback, where clients, probes and Prometheus come from", () => {
    // The defaults (127.0.0.1) would accept only connections from inside the pod.
    expect(server.host).toBe("0.0.0.0");
    expect(server.adminHost).toBe("0.0.0.0");
  });

  test("fits the container's memory limit with one backed-up queue and a full request buffer", () => {
    const limit = quantity(container.resources!.limits!.memory!);
    expect(quantity(container.resources!.requests!.memory!)).toBeLessThanOrEqual(limit);
    expect(server.maxPendingRequestBytes + config.queueDefaults.maxMemorySize).toBeLessThan(limit);
  });
});

describe("the manifests agree with the config", () => {
  test("memcache port: container, Service and config", () => {
    expect(containerPort("memcache")).toBe(server.port);
    const servicePort = service.spec!.ports!.find((port) => port.name === "memcache")!;
    expect(servicePort.port).toBe(server.port);
    expect(servicePort.targetPort).toBe("memcache");
  });

  test("admin HTTP port: container, Service, probes and Prometheus annotations", () => {
    expect(server.adminPort).not.toBeNull();
    expect(containerPort("admin")).toBe(server.adminPort!);
    const servicePort = service.spec!.ports!.find((port) => port.name === "admin")!;
    expect(servicePort.port).toBe(server.adminPort!);
    expect(servicePort.targetPort).toBe("admin");
    const annotations = pod.metadata!.annotations!;
    expect(annotations["prometheus.io/scrape"]).toBe("true");
    expect(annotations["prometheus.io/port"]).toBe(String(server.adminPort));
    expect(annotations["prometheus.io/path"]).toBe("/metrics");
  });

  test("probes ask /health on the admin port", () => {
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet).toEqual({ path: "/health", port: "admin" });
    }
  });

  test("queue_path is the mount path of the pod's own claimed volume", () => {
    const claim = statefulSet.spec!.volumeClaimTemplates!.find((template) => template.metadata?.name === "data")!;
    expect(claim.spec!.accessModes).toEqual(["ReadWriteOnce"]);
    const mount = container.volumeMounts!.find((candidate) => candidate.name === claim.metadata!.name)!;
    expect(mount.mountPath).toBe(server.queuePath);
    expect(mount.readOnly ?? false).toBe(false);
    // A claim template, not a pod volume: each server gets its own.
    expect(pod.spec!.volumes!.some((volume) => volume.name === "data")).toBe(false);
  });

  test("the preStop drains through the admin port, from loopback, within the grace period", () => {
    const command = container.lifecycle!.preStop!.exec!.command!;
    expect(command.slice(0, 2)).toEqual(["/usr/local/bin/kestrel", "drain"]);
    const option = (name: string) => command[command.indexOf(name) + 1]!;
    const admin = new URL(`http://${option("--admin")}`);
    expect(Number(admin.port)).toBe(server.adminPort!);
    // A status change is an administrative command: admin_commands must let the hook make it,
    // and with an auth_file it would need credentials, which the hook has no way to give.
    expect(isLoopbackAddress(admin.hostname)).toBe(true);
    expect(["loopback", "all"]).toContain(server.adminCommands);
    expect(server.authFile).toBeNull();
    expect(Number(option("--timeout")) + SHUTDOWN_SECONDS).toBeLessThanOrEqual(pod.spec!.terminationGracePeriodSeconds!);
  });

  test("the server runs as a non-root user that owns its volume", () => {
    const security = pod.spec!.securityContext!;
    expect(security.runAsNonRoot).toBe(true);
    expect(security.runAsUser).toBeGreaterThan(0);
    expect(security.fsGroup).toBe(security.runAsGroup!);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
  });

  test("requests and limits are set for cpu and memory", () => {
    const { requests, limits } = container.resources!;
    for (const resource of ["cpu", "memory"]) {
      expect(quantity(requests![resource]!)).toBeGreaterThan(0);
      expect(quantity(limits![resource]!)).toBeGreaterThanOrEqual(quantity(requests![resource]!));
    }
  });
});

test("a server on the pod's config answers the probes, the scrape and, from loopback, the preStop's status change", async () => {
  // Loopback and free ports for the test; everything else as in the pod.
  const testConfig = configText.replace(/^admin_host = .*$/m, 'admin_host = "127.0.0.1"').replace(/^admin_port = \d+$/m, "admin_port = 0");
  expect(testConfig).toContain("admin_port = 0");
  const kestrel = await ServerProcess.start({ config: testConfig });
  const adminPort = (await kestrel.adminAddress()).split(":")[1]!;
  const admin = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${adminPort}${path}`, init);
  const paths = [...new Set([container.startupProbe, container.readinessProbe, container.livenessProbe].map((probe) => probe!.httpGet!.path!))];
  paths.push(pod.metadata!.annotations!["prometheus.io/path"]!);
  for (const path of paths) {
    const response = await admin(path);
    expect({ path, status: response.status }).toEqual({ path, status: 200 });
    expect(await response.text()).toContain(path === "/metrics" ? "kestrel_items " : '"status":"ok"');
  }

  // What the hook does (see statefulset.yaml): read the status, set readonly, watch the counts, put it back.
  expect(await (await admin("/status")).text()).toBe("up\n");
  const readonly = await admin("/status", { method: "PUT", body: "readonly" });
  expect({ status: readonly.status, body: await readonly.text() }).toEqual({ status: 200, body: "readonly\n" });
  // A draining server stays live and ready: the probes must not restart it or hold it back.
  const health = await admin("/health");
  expect(health.status).toBe(200);
  expect(((await health.json()) as { server_status: string }).server_status).toBe("readonly");
  expect(((await (await admin("/stats.json")).json()) as { queues: object }).queues).toEqual({});
  expect((await admin("/status", { method: "PUT", body: "up" })).status).toBe(200);

  // And the hook's own command, as the manifest declares it (the admin address swapped for the
  // test's): it drains the empty server and puts its status back.
  const hook = container.lifecycle!.preStop!.exec!.command!.slice(1);
  hook[hook.indexOf("--admin") + 1] = `127.0.0.1:${adminPort}`;
  const drain = await runKestrel(hook);
  expect(drain.code).toBe(0);
  expect(drain.stderr).toContain("drained: every queue is empty, nothing open");
  expect(await (await admin("/status")).text()).toBe("up\n");
  expect(await kestrel.stop()).toBe(0);
});
