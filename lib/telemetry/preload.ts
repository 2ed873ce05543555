import { basename, dirname } from 'node:path';
import { startTracing } from './tracing.js';

/**
 * Imported first by every service's main.ts: tracing must hook @grpc/grpc-js before anything
 * loads it. Tracing runs when spans have somewhere to go (OTEL_EXPORTER_OTLP_ENDPOINT), or when
 * OTEL_TRACES_ENABLED=true asks for trace ids in logs without export; otherwise every call is
 * spared the instrumentation's cost. The service name comes from OTEL_SERVICE_NAME or the folder
 * of the entry file.
 */
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_TRACES_ENABLED === 'true') {
  startTracing({ serviceName: process.env.OTEL_SERVICE_NAME ?? basename(dirname(process.argv[1] ?? 'nepse')) });
}
