import { create } from '@bufbuild/protobuf';
import {
  AlertSeverity,
  AlertState,
  ListAlertsResponseSchema,
  type ListAlertsRequest,
  type ListAlertsResponse,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { decodePageToken, encodePageToken, pageSize, requireSymbol } from '../../lib/market/index.js';
import { toAlert } from './alert-book.js';
import type { MonitoringStore } from './store.js';

/** The position after which the next page starts: the last alert's start (ms) and id. */
function decodeCursor(token: string): { startedAtMs: number; alertId: string } | undefined {
  const cursor = decodePageToken(token);
  if (cursor === '') return undefined;
  const match = /^(\d{1,16}):(.{1,64})$/.exec(cursor);
  if (!match) throw new InvalidArgumentError({ field: 'page_token', description: 'not a page token returned by this service' });
  return { startedAtMs: Number(match[1]), alertId: match[2] };
}

function enumValue<E extends Record<string, string | number>>(values: E, value: number, field: string): number {
  if (!(value in values)) throw new InvalidArgumentError({ field, description: `${value} is not a valid value` });
  return value;
}

/** ListAlerts: stored alerts (firing and resolved), newest started first, filtered, one page at a time. */
export async function listAlerts(store: MonitoringStore, request: ListAlertsRequest): Promise<ListAlertsResponse> {
  const limit = pageSize(request.pageSize);
  const before = decodeCursor(request.pageToken);
  const state = enumValue(AlertState, request.state, 'state');
  const minSeverity = enumValue(AlertSeverity, request.minSeverity, 'min_severity');
  const symbol = request.symbol.trim() === '' ? '' : requireSymbol(request.symbol);
  const rows = await store.listAlerts({
    state,
    minSeverity,
    rule: request.rule.trim(),
    modelName: request.modelName.trim(),
    symbol,
    before,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return create(ListAlertsResponseSchema, {
    alerts: page.map(toAlert),
    nextPageToken: rows.length > limit && last ? encodePageToken(`${last.startedAt.getTime()}:${last.alertId}`) : '',
  });
}
