import { trace } from '@opentelemetry/api';
import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACT_PATHS, censor, maskCredentials, maskStrings } from './redact.js';

export type { Logger };

/** An error as pino writes it, with credentials masked in its message and stack. */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return maskStrings(error);
  // The serializer's result has a prototype of its own, which maskStrings leaves alone: copy it.
  return maskStrings({ ...stdSerializers.err(error) });
}

/**
 * A JSON logger for one service. Every line carries the service name and, inside a traced
 * operation, `trace_id` and `span_id`, so logs join traces. Credentials never reach a line:
 * secret fields (passwords, tokens, API keys, authorization headers) are censored by path, and
 * connection URLs anywhere in the line, the message and errors included, lose their password
 * (`postgres://user:***@host`); see redact.ts. A child logger's bindings get the censoring by
 * field name only (pino formats them once, without the string scan): bind ids, not config. Lines go to stdout unless a `destination` is given
 * (tests capture them that way).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (bindings) => maskStrings(bindings),
      log: (object) => maskStrings(object),
    },
    serializers: { err: serializeError, error: serializeError },
    redact: { paths: [...REDACT_PATHS], censor },
    hooks: {
      // The message is not part of the object formatters see.
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = maskCredentials(args[i] as string);
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
