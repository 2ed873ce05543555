/**
 * Where each mesh service answers: one naming scheme, `NEPSE_<SERVICE>_ADDR`, read by every
 * service, the gateway, the CLI, the scripts and the manifests alike. The older `<SERVICE>_ADDR`
 * (e.g. `FEATURE_ADDR`) is still accepted for a while, with a deprecation warning logged once.
 */
import { z } from 'zod';
import { ConfigError } from './config.js';
import { DEFAULT_PORTS, type ServiceName } from './ports.js';

/** A mesh service that others dial (everything but the public gateway). */
export type MeshService = Exclude<ServiceName, 'gateway'>;

/** The variable naming where a service answers, e.g. `NEPSE_PREDICTION_ADDR`. */
export function addressVariable(service: MeshService): `NEPSE_${Uppercase<MeshService>}_ADDR` {
  return `NEPSE_${service.toUpperCase() as Uppercase<MeshService>}_ADDR`;
}

/** The deprecated variable the same address used to be read from, e.g. `PREDICTION_ADDR`. */
export function legacyAddressVariable(service: MeshService): string {
  return `${service.toUpperCase()}_ADDR`;
}

/** `host:port` with a port from 1 to 65535; the host is a name, an IPv4 address or a bracketed IPv6 one. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** Whether `value` is a dialable `host:port`. */
export function isHostPort(value: string): boolean {
  const match = HOST_PORT.exec(value);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65_535;
}

/** Schema of one address: `host:port`, defaulting to the service's local port. */
export function addressSchema(service: MeshService) {
  return z
    .string()
    .refine(isHostPort, `expected host:port, e.g. 127.0.0.1:${DEFAULT_PORTS[service]}`)
    .default(`127.0.0.1:${DEFAULT_PORTS[service]}`);
}

/** Config schema entries for the services a component dials, keyed `NEPSE_<SERVICE>_ADDR`. */
export function addressEnv<const S extends MeshService>(
  ...services: S[]
): { [K in S as `NEPSE_${Uppercase<K>}_ADDR`]: ReturnType<typeof addressSchema> } {
  return Object.fromEntries(services.map((service) => [addressVariable(service), addressSchema(service)])) as never;
}

/** Receives a deprecation message; by default a process warning. */
export type DeprecationSink = (message: string) => void;

const warned = new Set<string>();

const processWarning: DeprecationSink = (message) => process.emitWarning(message, { type: 'DeprecationWarning', code: 'NEPSE_ADDR' });

/**
 * `env` with the deprecated `<SERVICE>_ADDR` of each of `services` copied to its
 * `NEPSE_<SERVICE>_ADDR` when the new name is not set (the new name wins when both are). Each old
 * name in use is reported once per process, so a config read again later does not repeat it.
 */
export function withAddressFallbacks(
  env: NodeJS.ProcessEnv,
  services: readonly MeshService[],
  warn: DeprecationSink = processWarning,
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const service of services) {
    const current = addressVariable(service);
    const legacy = legacyAddressVariable(service);
    if (!env[legacy]) continue;
    if (!env[current]) out[current] = env[legacy];
    if (warned.has(legacy)) continue;
    warned.add(legacy);
    warn(env[current] ? `${legacy} is ignored: ${current} is set; drop ${legacy}` : `${legacy} is deprecated: set ${current} instead`);
  }
  return out;
}

/**
 * Where `service` answers: `NEPSE_<SERVICE>_ADDR`, else the deprecated `<SERVICE>_ADDR` (warned
 * once), else its local default port.
 * @throws ConfigError naming the variable when the value is not `host:port`.
 */
export function readAddress(service: MeshService, env: NodeJS.ProcessEnv = process.env, warn?: DeprecationSink): string {
  const variable = addressVariable(service);
  const value = withAddressFallbacks(env, [service], warn)[variable] || `127.0.0.1:${DEFAULT_PORTS[service]}`;
  if (!isHostPort(value)) {
    throw new ConfigError([`${variable}: expected host:port, e.g. 127.0.0.1:${DEFAULT_PORTS[service]}, got "${value}"`]);
  }
  return value;
}

/** Forgets which deprecated names were reported (for tests of the warning). */
export function resetAddressWarnings(): void {
  warned.clear();
}
