import { basename, dirname } from 'node:path';
import { startTracing, tracingSettings, TracingSettingError } from './tracing.js';

/**
 * Imported first by every service's main.ts: tracing must hook @grpc/grpc-js before anything
 * loads it. Tracing runs as the standard OpenTelemetry variables say (tracingSettings: an
 * exporter named by OTEL_TRACES_EXPORTER or an OTLP endpoint, or OTEL_TRACES_ENABLED=true for
 * trace ids in logs without export; never with OTEL_SDK_DISABLED=true); otherwise every call is
 * spared the instrumentation's cost. The service name comes from OTEL_SERVICE_NAME or the folder
 * of the entry file. A value the SDK cannot use stops the start with one line naming it.
 */
const serviceName = basename(dirname(process.argv[1] ?? 'nepse'));
try {
  if (tracingSettings(process.env, serviceName).enabled) startTracing({ serviceName });
} catch (error) {
  if (!(error instanceof TracingSettingError)) throw error;
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: serviceName, variable: error.variable, msg: `cannot start: ${error.message}` })}\n`,
  );
  process.exit(1);
}
