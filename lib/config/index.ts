/** Configuration: environment read and validated once, with defaults for local runs. */
export { readConfig, ConfigError, commonEnv, port } from './config.js';
export { DEFAULT_PORTS, METRICS_PORT_OFFSET, LOCAL_NATS_PORT, type ServiceName } from './ports.js';
export {
  addressEnv,
  addressSchema,
  addressVariable,
  isHostPort,
  legacyAddressVariable,
  readAddress,
  resetAddressWarnings,
  withAddressFallbacks,
  type DeprecationSink,
  type MeshService,
} from './addresses.js';
