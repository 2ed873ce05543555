/** Process runtime shared by the services: hosting gRPC with health and metrics, shutdown on signals. */
export { hostServices, stopOnSignals, type Host, type HostOptions } from './host.js';
export {
  createReadiness,
  queryCheck,
  type Readiness,
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
} from './readiness.js';
export { runService, type RunServiceOptions, type StartedService } from './run-service.js';
export { explainStartupError, type StartupProblem } from './startup-error.js';
