import { ConnectError, type Interceptor } from '@connectrpc/connect';
import type { CallObserver } from '../../lib/grpc/index.js';

const codeOf = (error: unknown) => ConnectError.from(error).code as number;

/**
 * Reports every call the gateway serves, refusals included, to the kit's server observer
 * (`grpc_server_handled_total`, `grpc_server_handling_seconds`, debug and error logs), as the
 * grpc-js services do. Streams are reported when they end.
 */
export function observeInterceptor(observer: CallObserver): Interceptor {
  return (next) => async (req) => {
    const started = process.hrtime.bigint();
    const report = (code: number, error?: unknown) =>
      observer({ service: req.service.typeName, method: req.method.name, kind: req.method.methodKind, code, durationSeconds: Number(process.hrtime.bigint() - started) / 1e9, error });
    try {
      const res = await next(req);
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
