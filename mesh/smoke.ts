/**
 * make mesh-smoke: the dev overlay as podman runs it on this machine (mesh/k8s/overlays/podman,
 * host network, default ports), driven end to end from outside the containers with the nepse CLI:
 * every service SERVING on the health name its probes ask for, a generated NEPSE export imported,
 * a model trained and promoted, a Predict answered (directly and through the gateway). Everything
 * is torn down afterwards, on failure and on Ctrl-C too: pods, containers and volumes.
 * Images come from `make images` (the Makefile runs it first).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { loadCallGraph, ROOT } from './call-graph.js';
import type { K8sObject } from './render/k8s.js';
import { parseObjects } from '../test/mesh/manifests.js';
import { createGrpcClient } from '../lib/grpc/index.js';
import { descriptorRegistry, HEALTH_SERVICE } from '../lib/grpc/reflection.js';

const run = promisify(execFile);
const env = { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? join(ROOT, 'mesh/containers.conf') };
const started = Date.now();
const log = (message: string) => console.log(`mesh-smoke ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${message}`);
const podman = (...args: string[]) => execFileSync('podman', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const imageExists = (image: string) => spawnSync('podman', ['image', 'exists', image], { env }).status === 0;

const graph = loadCallGraph();
const work = mkdtempSync(join(tmpdir(), 'nepse-smoke-'));
const playFile = join(work, 'mesh.yaml');
let volumes: string[] = [];
let pods: string[] = [];
let played = false;

/** The podman overlay, reduced to what podman runs: workloads whose image is built, their config and volumes. */
function renderPlay(): { objects: K8sObject[]; services: string[] } {
  const rendered = parseObjects(execFileSync('kubectl', ['kustomize', join(ROOT, 'mesh/k8s/overlays/podman')], { encoding: 'utf8' }));
  const workloads = rendered
    .filter((o) => o.kind === 'Deployment')
    .filter((o) => {
      const image = (o as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec
        .containers[0]!.image;
      if (imageExists(image)) return true;
      log(`skipping ${o.metadata.name}: image ${image} not built`);
      return false;
    });
  const objects = [...rendered.filter((o) => ['ConfigMap', 'PersistentVolumeClaim'].includes(o.kind)), ...workloads];
  return { objects, services: workloads.map((o) => o.metadata.name).filter((name) => graph.services.some((s) => s.name === name)) };
}

/** Whether something already listens on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING. */
const SERVING = 1;

/** Waits until the service answers SERVING for its own health name, or throws after `timeoutMs`. */
async function waitServing(service: (typeof graph.services)[number], timeoutMs: number): Promise<void> {
  // grpc.health.v1 from the descriptor sets, as any client without generated code would use it.
  const client = createGrpcClient(descriptorRegistry().getService(HEALTH_SERVICE)!, `127.0.0.1:${service.port}`) as unknown as {
    check(request: { service: string }, options: { timeoutMs: number }): Promise<{ status: number }>;
    close(): void;
  };
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  try {
    while (Date.now() < deadline) {
      try {
        const answer = await client.check({ service: service.serves[0] }, { timeoutMs: 1_000 });
        if (answer.status === SERVING) return;
        last = `status ${answer.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  } finally {
    client.close();
  }
  throw new Error(`${service.name} is not SERVING after ${timeoutMs / 1000} s (${last})`);
}

/** Runs the nepse CLI against the containers; retries while `retry` says the answer is not there yet. */
async function nepse(args: string[], options: { extraEnv?: Record<string, string>; retryForMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + (options.retryForMs ?? 0);
  for (;;) {
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/nepse.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, ...options.extraEnv },
        timeout: 300_000,
        maxBuffer: 16 << 20,
      });
      return stdout;
    } catch (error) {
      if (Date.now() >= deadline)
        throw new Error(`nepse ${args.join(' ')}: ${(error as { stderr?: string }).stderr || (error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

/** Removes this mesh's pods (stopped with the grace period) and volumes, if there are any. */
function removePodsAndVolumes(): void {
  // A play that failed half-way leaves pods kube down does not know of.
  for (const pod of pods)
    spawnSync('podman', ['pod', 'rm', '--force', '--ignore', '--time', '25', pod], { env, stdio: 'ignore', timeout: 60_000 });
  for (const volume of volumes) spawnSync('podman', ['volume', 'rm', '--force', volume], { env, stdio: 'ignore' });
}

/** Removes the pods, their containers and the volumes of the claims; checks nothing is left. */
function teardown(): void {
  if (played) {
    spawnSync('podman', ['kube', 'down', playFile], { env, stdio: 'ignore', timeout: 120_000 });
    removePodsAndVolumes();
    const left = podman('pod', 'ls', '--format', '{{.Name}}')
      .split('\n')
      .filter((name) => pods.includes(name));
    const leftVolumes = podman('volume', 'ls', '--format', '{{.Name}}')
      .split('\n')
      .filter((name) => volumes.includes(name));
    if (left.length + leftVolumes.length > 0) {
      console.error(`mesh-smoke: left behind: ${[...left, ...leftVolumes].join(', ')}`);
      process.exitCode = 1;
    }
    played = false;
  }
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const { objects, services } = renderPlay();
  // Podman names each pod <deployment>-pod-0 and makes a named volume of every claim, emptyDir and Secret.
  pods = objects.filter((o) => o.kind === 'Deployment').map((o) => `${o.metadata.name}-pod-0`);
  const specs = objects
    .filter((o) => o.kind === 'Deployment')
    .map(
      (o) =>
        (
          o as unknown as {
            spec: { template: { spec: { volumes?: { name: string; emptyDir?: unknown; secret?: { secretName: string } }[] } } };
          }
        ).spec.template.spec,
    );
  const emptyDirs = specs.flatMap((spec) =>
    (spec.volumes ?? []).flatMap((v) => (v.emptyDir !== undefined ? [v.name] : v.secret ? [v.secret.secretName] : [])),
  );
  volumes = [...new Set([...objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name), ...emptyDirs])];
  const mesh = graph.services.filter((s) => services.includes(s.name));
  const ports = [4223, ...mesh.flatMap((s) => [s.port, s.metricsPort])];
  const taken = (await Promise.all(ports.map(async (port) => ((await listening(port)) ? port : 0)))).filter(Boolean);
  if (taken.length > 0) throw new Error(`default ports already in use: ${taken.join(', ')} (is make dev running?)`);
  writeFileSync(playFile, objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  // What an interrupted earlier run (killed before its teardown) may have left.
  removePodsAndVolumes();

  log(`podman kube play --network=host (${services.join(', ')}, nats)`);
  played = true;
  podman('kube', 'play', '--network=host', playFile);
  // Generous: a first start initialises every embedded store (PGlite's initdb alone takes tens of
  // seconds on a busy machine).
  await Promise.all(mesh.map((service) => waitServing(service, 360_000)));
  log('every service SERVING on its probe name');

  const csv = join(work, 'prices.csv');
  writeFileSync(
    csv,
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/sample-market.ts'), '750'], { cwd: ROOT, maxBuffer: 64 << 20 }),
  );
  log(`import: ${(await nepse(['import', csv])).trim().split('\n')[0]}`);
  // Features are computed from the BarsIngested events; training waits for none, so ask until the
  // training set is there (a job that finds too little data fails and is retried).
  const trained = await nepse(['train', '--name', 'nepse-smoke', '--no-promote', '--wait'], { retryForMs: 120_000 });
  log(`train: ${trained.trim().split('\n').at(-1)}`);
  log(`promote: ${(await nepse(['promote', 'nepse-smoke', '1', '--reason', 'mesh smoke'])).trim().split('\n')[0]}`);
  const answer = await nepse(['predict', 'NABIL', '--model', 'nepse-smoke'], { retryForMs: 60_000 });
  log(`predict:\n${answer.trimEnd()}`);
  if (services.includes('gateway')) {
    const viaGateway = await nepse(['predict', 'NABIL', '--model', 'nepse-smoke'], {
      extraEnv: { NEPSE_GATEWAY: '127.0.0.1:8080', NEPSE_API_KEY: 'nepse_dev-operator_local-dev-key-not-secret' },
      retryForMs: 30_000,
    });
    log(`predict through the gateway:\n${viaGateway.trimEnd()}`);
  }
}

process.on('SIGINT', () => {
  teardown();
  process.exit(130);
});
try {
  await main();
  log('passed');
} catch (error) {
  console.error(`mesh-smoke: FAILED: ${(error as Error).message}`);
  for (const name of podman('ps', '--all', '--format', '{{.Names}}').split('\n').filter(Boolean)) {
    console.error(`--- last log lines of ${name}`);
    const logs = spawnSync('podman', ['logs', '--tail', '15', name], { env, encoding: 'utf8' });
    console.error(`${logs.stdout ?? ''}${logs.stderr ?? ''}`.trim());
  }
  process.exitCode = 1;
} finally {
  teardown();
  log('torn down');
}
