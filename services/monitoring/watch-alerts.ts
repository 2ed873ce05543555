import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  AlertSeverity,
  WatchAlertsResponseSchema,
  type Alert,
  type WatchAlertsRequest,
  type WatchAlertsResponse,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError, UnavailableError, type CallContext } from '../../lib/grpc/index.js';
import type { AlertBook } from './alert-book.js';

/** Changes a watcher may fall behind by before its stream is ended (it reconnects with include_firing). */
const MAX_BACKLOG = 10_000;

const heartbeat = () => create(WatchAlertsResponseSchema, { kind: { case: 'heartbeat', value: { sentAt: timestampNow() } } });
const alertMessage = (value: Alert) => create(WatchAlertsResponseSchema, { kind: { case: 'alert', value } });

/**
 * WatchAlerts: every alert that starts firing or resolves, at or above the severity asked for;
 * with include_firing, first every alert firing now. The subscription starts before the snapshot
 * is taken, so nothing falls between them. A heartbeat goes out first and whenever nothing else
 * was sent for the keep-alive interval; the stream ends when the client cancels, and cleanly (OK) when the service shuts down.
 */
export async function* watchAlerts(
  book: AlertBook,
  request: WatchAlertsRequest,
  context: CallContext,
  heartbeatMs: number,
  closing: AbortSignal,
): AsyncIterable<WatchAlertsResponse> {
  if (!(request.minSeverity in AlertSeverity))
    throw new InvalidArgumentError({ field: 'min_severity', description: `${request.minSeverity} is not a valid value` });
  const wanted = (alert: Alert) => alert.severity >= request.minSeverity;
  const backlog: Alert[] = [];
  let overflow = false;
  let wake: (() => void) | undefined;
  const unsubscribe = book.subscribe((alert) => {
    if (!wanted(alert)) return;
    if (backlog.length >= MAX_BACKLOG) overflow = true;
    else backlog.push(alert);
    wake?.();
  });
  const onAbort = () => wake?.();
  context.signal.addEventListener('abort', onAbort);
  closing.addEventListener('abort', onAbort);
  try {
    if (request.includeFiring) for (const alert of book.firingAlerts()) if (wanted(alert)) yield alertMessage(alert);
    yield heartbeat();
    while (!context.signal.aborted && !closing.aborted) {
      if (overflow) throw new UnavailableError('this watcher fell too far behind; reconnect with include_firing to resynchronise');
      const next = backlog.shift();
      if (next) {
        yield alertMessage(next);
        continue;
      }
      const idle = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), heartbeatMs);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = undefined;
      if (idle && !context.signal.aborted) yield heartbeat();
    }
  } finally {
    unsubscribe();
    context.signal.removeEventListener('abort', onAbort);
    closing.removeEventListener('abort', onAbort);
  }
}
