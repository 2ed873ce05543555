import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * A JSON logger for one service. Every line carries the service name and, inside a traced
 * operation, `trace_id` and `span_id`, so logs join traces. Secrets never go in log fields.
 * Lines go to stdout unless a `destination` is given (tests capture them that way).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // `*.x` only matches one level down, so each key is listed at the top level as well.
    redact: { paths: ['password', 'apiKey', 'authorization', '*.password', '*.apiKey', '*.authorization'], censor: '[redacted]' },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
