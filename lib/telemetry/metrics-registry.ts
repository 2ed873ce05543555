import { register, type Registry } from 'prom-client';

/** The process-wide Prometheus registry every metric of a service lands in. */
export const metricsRegistry: Registry = register;

/**
 * Returns the metric registered under `name`, or registers the one `make` builds: several
 * services started in one process (tests) share one registry, and prom-client refuses a second
 * registration of a name.
 */
export function metric<T>(name: string, make: () => T): T {
  return (metricsRegistry.getSingleMetric(name) as T | undefined) ?? make();
}
