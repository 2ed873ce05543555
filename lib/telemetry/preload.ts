import { basename, dirname } from 'node:path';
import { startTracing } from './tracing.js';

/**
 * Imported first by every service's main.ts: tracing must hook @grpc/grpc-js before anything
 * loads it. The service name comes from OTEL_SERVICE_NAME or the folder of the entry file.
 */
startTracing({ serviceName: process.env.OTEL_SERVICE_NAME ?? basename(dirname(process.argv[1] ?? 'nepse')) });
