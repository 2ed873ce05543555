/** The monitoring service for the test network: its real start function. */
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { monitoringConfig } from '../../services/monitoring/config.js';
import { startMonitoring, type MonitoringOptions, type RunningMonitoring } from '../../services/monitoring/service.js';
import type { ServiceDriver } from './driver.js';

export type { MonitoringOptions };

/** Starts monitoring from environment variables; options give it a clock or rules of the test's own. */
export const monitoring = {
  name: 'monitoring',
  definition: MonitoringService,
  phase: 1,
  // Rules run when a test asks (evaluator.evaluate()) or soon after an event, never on a timer of their own.
  env: { MONITORING_EVALUATE_INTERVAL_MS: '600000', MONITORING_EVALUATE_DEBOUNCE_MS: '50', MONITORING_HEARTBEAT_MS: '200' },
  start: (env, options) => startMonitoring(monitoringConfig(env), options),
} satisfies ServiceDriver<RunningMonitoring, MonitoringOptions>;
