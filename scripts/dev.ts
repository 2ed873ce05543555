/**
 * `make dev`: every service that exists (services/<name>/main.ts), each as its own process on its
 * default port (lib/config/ports.ts, or `<SERVICE>_PORT`), with embedded stores under .data/ and a local
 * nats-server on 4223, until Ctrl-C. Set NATS_URL to use a NATS server of your own instead.
 * Everything is supervised (lib/runtime/supervisor.ts): a service or the nats-server that exits
 * is reported and restarted with a growing pause, and given up on after too many restarts.
 * `--check` starts everything, prints the table and stops again (what the tests run).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PORTS, LOCAL_NATS_PORT, METRICS_PORT_OFFSET } from '../lib/config/index.js';
import { portOpen, startNatsProcess } from '../lib/runtime/nats-process.js';
import { ROOT, startServiceProcess } from '../lib/runtime/service-process.js';
import { supervise, type SupervisedChild, type Supervisor } from '../lib/runtime/supervisor.js';

const checkOnly = process.argv.includes('--check');
const dataDir = process.env.DATA_DIR ?? join(ROOT, '.data');
/** Where the gateway writes the development key (operator role) it accepts. */
const devKeyFile = process.env.GATEWAY_DEV_KEY_FILE ?? join(dataDir, 'gateway', 'dev-api-key');

/** Every services/<name>/main.ts: those with a default port in lib/config/ports.ts's order, then the rest by name. */
function discoverServices(): string[] {
  const found = readdirSync(join(ROOT, 'services')).filter((name) => existsSync(join(ROOT, 'services', name, 'main.ts')));
  const known = Object.keys(DEFAULT_PORTS).filter((name) => found.includes(name));
  const ordered = [...known, ...found.filter((name) => !known.includes(name)).sort()];
  // The gateway calls all the others: it starts last.
  return [...ordered.filter((name) => name !== 'gateway'), ...ordered.filter((name) => name === 'gateway')];
}

/** A service's gRPC port: `<SERVICE>_PORT`, else its default. */
function portOf(name: string): number {
  const fromEnv = Number(process.env[`${name.toUpperCase()}_PORT`]);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  const port = (DEFAULT_PORTS as Record<string, number>)[name];
  if (port === undefined)
    throw new Error(`services/${name} has no default port: add it to lib/config/ports.ts or set ${name.toUpperCase()}_PORT`);
  return port;
}

const supervisors: Array<Supervisor<SupervisedChild>> = [];
let natsSupervisor: Supervisor<SupervisedChild> | undefined;
let stopping = false;
/** Services first (they drain their consumers), the nats-server last. */
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(supervisors.map((s) => s.stop()));
  await natsSupervisor?.stop();
};
const fail = async (message: string) => {
  console.error(`make dev: ${message}`);
  await stopAll();
  process.exit(1);
};
process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

/** The local nats-server on 4223 (data in .data/nats), supervised, unless NATS_URL points elsewhere. */
async function startNats(): Promise<string> {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  if (await portOpen(LOCAL_NATS_PORT)) throw new Error(`port ${LOCAL_NATS_PORT} is taken: stop what runs there, or set NATS_URL to use it`);
  natsSupervisor = await supervise({
    name: 'nats-server',
    start: () => startNatsProcess({ port: LOCAL_NATS_PORT, storeDir: join(dataDir, 'nats') }),
  });
  return `nats://127.0.0.1:${LOCAL_NATS_PORT}`;
}

const rows: Array<[string, string]> = [];
try {
  const natsUrl = await startNats();
  rows.push(['nats', natsUrl]);
  const services = discoverServices();
  // Where each service finds the others (NEPSE_FEATURE_ADDR, NEPSE_REGISTRY_ADDR, …), on the ports chosen here;
  // an address already set (or set under its deprecated <NAME>_ADDR) is kept.
  const variable = (name: string) => `NEPSE_${name.toUpperCase()}_ADDR`;
  const addresses = Object.fromEntries(
    services.map((name) => [
      variable(name),
      process.env[variable(name)] ?? process.env[`${name.toUpperCase()}_ADDR`] ?? `127.0.0.1:${portOf(name)}`,
    ]),
  );
  const env = {
    ...addresses,
    NATS_URL: natsUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    BIND_HOST: process.env.BIND_HOST ?? '127.0.0.1',
    GATEWAY_DEV_KEY_FILE: devKeyFile,
  };
  // One after another: the embedded engines are heavy to start, and logs stay readable.
  for (const name of services) {
    const port = portOf(name);
    const metricsPort = Number(process.env[`${name.toUpperCase()}_METRICS_PORT`]) || port + METRICS_PORT_OFFSET;
    supervisors.push(await supervise({ name, start: () => startServiceProcess(name, { port, metricsPort, env }) }));
    rows.push([name, `grpc 127.0.0.1:${port}   metrics http://127.0.0.1:${metricsPort}/metrics`]);
  }
} catch (error) {
  await fail((error as Error).message);
}

console.log('\nNEPSE Prediction Mesh is up:');
for (const [name, where] of rows) console.log(`  ${name.padEnd(12)} ${where}`);
console.log(
  `\nTry: node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge --list-services http://127.0.0.1:${portOf('ingestion')}`,
);
if (existsSync(devKeyFile)) {
  console.log(`\nDashboard: http://127.0.0.1:${portOf('gateway')}/`);
  console.log(`Development API key (operator, in ${devKeyFile}): ${readFileSync(devKeyFile, 'utf8').trim()}`);
  console.log(`  NEPSE_GATEWAY=127.0.0.1:${portOf('gateway')} NEPSE_API_KEY=$(cat ${devKeyFile}) npm run nepse -- models`);
}
if (checkOnly) {
  await stopAll();
  process.exit(0);
}
console.log(
  'Ctrl-C stops everything. A service or the nats-server that exits is restarted (1 s, doubling to 30 s; at most 5 restarts in 5 min).',
);
