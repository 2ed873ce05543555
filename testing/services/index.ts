/** Every service the harness can start, by name. */
import type { ServiceName } from './driver.js';
import { feature } from './feature.js';
import { gateway } from './gateway.js';
import { ingestion } from './ingestion.js';
import { monitoring } from './monitoring.js';
import { prediction } from './prediction.js';
import { registry } from './registry.js';
import { training } from './training.js';

export { SERVICE_NAMES, type RunningService, type ServiceDriver, type ServiceName } from './driver.js';
export { artifactBucket } from './registry.js';
export type { MonitoringOptions } from './monitoring.js';

/** The drivers, by service name. */
export const DRIVERS = { ingestion, feature, registry, training, prediction, monitoring, gateway } as const;

type Drivers = typeof DRIVERS;
/** What the start function of service `N` answers (RunningPrediction for `prediction`, …). */
export type RunningOf<N extends ServiceName> = Awaited<ReturnType<Drivers[N]['start']>>;
/** What the start function of service `N` takes beyond its environment. */
export type OptionsOf<N extends ServiceName> = Parameters<Drivers[N]['start']>[1];
/** The gRPC service of `N`. */
export type DefinitionOf<N extends ServiceName> = Drivers[N]['definition'];
