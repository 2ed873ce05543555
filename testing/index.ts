/**
 * The test harness: boots any set of the mesh's services for tests. Services never import each
 * other, tests included; a test that needs more than its own service comes here.
 */
export { failure, metricValue } from './calls.js';
export type { DrainOptions } from './drain.js';
export { EventLog, type SeenEvent } from './event-log.js';
export { JWT_SECRET, startGatewayBed, type BedKeys, type GatewayBed } from './gateway-bed.js';
export { DEFAULT_FEATURE_SET, randomWalkBars, type DailyBar } from './market.js';
export { linearModel, registerRequests, registrationFor, sha256Hex, type LinearModelOptions } from './models.js';
export { startMonitoringBed, type MonitoringBed, type MonitoringBedExtras, type TestPrediction } from './monitoring-bed.js';
export { TestNetwork, type ServiceParams, type TestNetworkParams } from './network.js';
export { BIAS, startPredictionBed, WEIGHTS, WIDTH, type PredictionBed, type PredictionBedOptions } from './prediction-bed.js';
export {
  startTestBed,
  startTestFeatureService,
  testBackends,
  type Backend,
  type TestBed,
  type TestBedOptions,
  type TestFeatureService,
} from './registry-bed.js';
export { SERVICE_NAMES, type MonitoringOptions, type RunningOf, type ServiceName } from './services/index.js';
export { TestService } from './test-service.js';
export { startNatsServer, waitFor, type NatsTestServer } from '../lib/events/testing.js';
