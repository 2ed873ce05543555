import { ConnectError, createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { context as otelContext } from '@opentelemetry/api';
import type { CallObserver } from '../../lib/grpc/index.js';
import { startCallSpan, type CallSpan } from './call-span.js';

/** The gateway's span of the call being handled (set by {@link observeInterceptor}). */
export const CALL_SPAN = createContextKey<CallSpan | undefined>(undefined, { description: 'gateway call span' });

/** The span of the call `ctx` serves, if the observing interceptor runs. */
export function callSpanOf(ctx: HandlerContext): CallSpan | undefined {
  return ctx.values.get(CALL_SPAN);
}

const codeOf = (error: unknown) => ConnectError.from(error).code as number;

/**
 * Reports every call the gateway serves, refusals included, to the kit's server observer
 * (`grpc_server_handled_total`, `grpc_server_handling_seconds`, debug and error logs), as the
 * grpc-js services do, and makes its server span (call-span.ts), whose context forward.ts sends
 * upstream. Streams are reported when they end.
 */
export function observeInterceptor(observer: CallObserver): Interceptor {
  return (next) => async (req) => {
    const started = process.hrtime.bigint();
    const span = startCallSpan(req.service.typeName, req.method.name, (name) => req.header.get(name) ?? undefined);
    req.contextValues.set(CALL_SPAN, span);
    const report = (code: number, error?: unknown) => {
      span.end(code, error);
      observer({
        service: req.service.typeName,
        method: req.method.name,
        kind: req.method.methodKind,
        code,
        durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
        error,
      });
    };
    try {
      // The handler runs in the span's context: whatever it calls upstream is the span's child.
      const res = await otelContext.with(span.context, () => next(req));
      if (!res.stream) {
        report(0);
        return res;
      }
      return {
        ...res,
        message: (async function* () {
          try {
            yield* res.message;
            report(0);
          } catch (error) {
            report(codeOf(error), error);
            throw error;
          }
        })(),
      };
    } catch (error) {
      report(codeOf(error), error);
      throw error;
    }
  };
}
