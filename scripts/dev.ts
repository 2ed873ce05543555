/**
 * `make dev`: every service that exists, each as its own process on its default port (DESIGN.md),
 * with embedded stores under .data/ and a local nats-server on 4223, until Ctrl-C.
 * Set NATS_URL to use a NATS server of your own instead. `--check` starts everything, prints the
 * table and stops again (what the tests run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_PORTS, LOCAL_NATS_PORT, type ServiceName } from '../lib/config/index.js';
import { ROOT, startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';

const checkOnly = process.argv.includes('--check');
const dataDir = process.env.DATA_DIR ?? join(ROOT, '.data');
const services = (Object.keys(DEFAULT_PORTS) as ServiceName[]).filter((name) => existsSync(join(ROOT, 'services', name, 'main.ts')));

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/** Starts nats-server with JetStream on 4223 (data in .data/nats), unless NATS_URL points elsewhere. */
async function startNats(): Promise<{ url: string; process?: ChildProcess }> {
  if (process.env.NATS_URL) return { url: process.env.NATS_URL };
  const url = `nats://127.0.0.1:${LOCAL_NATS_PORT}`;
  if (await portOpen(LOCAL_NATS_PORT)) throw new Error(`port ${LOCAL_NATS_PORT} is taken: stop what runs there, or set NATS_URL to use it`);
  const store = join(dataDir, 'nats');
  mkdirSync(store, { recursive: true });
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(LOCAL_NATS_PORT), '-js', '-sd', store, '--server_name', 'nepse-dev'], { stdio: 'ignore' });
  child.once('error', (error) => {
    console.error(`cannot start nats-server (${error.message}); install it (apt-get install nats-server) or set NATS_URL`);
    process.exit(1);
  });
  for (let i = 0; i < 100 && !(await portOpen(LOCAL_NATS_PORT)); i++) await new Promise((r) => setTimeout(r, 100));
  return { url, process: child };
}

const nats = await startNats().catch((error: Error) => {
  console.error(`make dev: ${error.message}`);
  process.exit(1);
});
const running: ServiceProcess[] = [];
let stopping = false;
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(running.map((s) => s.stop()));
  nats.process?.kill('SIGTERM');
};
process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

try {
  // One after another: the embedded engines are heavy to start, and logs stay readable.
  for (const name of services) {
    running.push(
      await startServiceProcess(name, {
        port: DEFAULT_PORTS[name],
        env: { NATS_URL: nats.url, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', BIND_HOST: process.env.BIND_HOST ?? '127.0.0.1' },
      }),
    );
  }
} catch (error) {
  console.error(`make dev: ${(error as Error).message}`);
  await stopAll();
  process.exit(1);
}

console.log('\nNEPSE Prediction Mesh is up:');
console.log(`  ${'nats'.padEnd(12)} ${nats.url}`);
for (const s of running) console.log(`  ${s.name.padEnd(12)} grpc 127.0.0.1:${s.port}   metrics http://127.0.0.1:${s.metricsPort}/metrics`);
console.log(`\nTry: node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge --list-services http://127.0.0.1:${DEFAULT_PORTS.ingestion}`);
if (checkOnly) {
  await stopAll();
  process.exit(0);
}
console.log('Ctrl-C stops everything.');
