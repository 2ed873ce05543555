/**
 * GetDashboard and GetSymbolOverview: the dashboard's reads put together from several services at
 * once. A section whose service does not answer within its time is left out and listed in
 * `unavailable_sections`; the rest still answers. Bad input is INVALID_ARGUMENT naming the field.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import {
  Section,
  type GetDashboardRequest,
  type GetDashboardResponseSchema,
  type GetSymbolOverviewRequest,
  type GetSymbolOverviewResponseSchema,
} from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { Bar } from '../../gen/nepse/market/v1/market_pb.js';
import { AlertState } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { grpc, InvalidArgumentError, type CallOptions } from '../../lib/grpc/index.js';
import { isModelName, rangeBounds, requireSymbol } from '../../lib/market/index.js';
import { toConnectError } from './errors.js';
import { forwardOptions, type ForwardDefaults } from './forward.js';
import type { Upstreams } from './upstreams.js';

/** Time a section may take when the caller set no shorter deadline, in ms. */
const SECTION_TIMEOUT_MS = 3_000;
/** Bars of an overview when no range is asked for: about six months of sessions. */
const DEFAULT_SESSIONS = 120;
/** Most bars an overview returns (the latest ones). */
const MAX_BARS = 5_000;

/** The refusal of a model name no model can have (checked here: with no symbols listed, no service would see it). */
const badModelName = (name: string) =>
  new InvalidArgumentError({ field: 'model_name', description: `${JSON.stringify(name.slice(0, 70))} is not a model name` });

/** The outcome of one section: its value, or undefined with the section marked unavailable. */
async function section<T>(unavailable: Set<Section>, which: Section, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    // A refusal of what the caller sent (a page token, a model name) is the caller's answer, not an outage.
    if ((error as { code?: number }).code === grpc.status.INVALID_ARGUMENT) throw toConnectError(error);
    unavailable.add(which);
    return undefined;
  }
}

function options(ctx: HandlerContext, defaults: ForwardDefaults): CallOptions {
  const base = forwardOptions(ctx, defaults);
  return { ...base, timeoutMs: Math.min(base.timeoutMs ?? SECTION_TIMEOUT_MS, SECTION_TIMEOUT_MS) };
}

/** GetDashboard. */
export async function getDashboard(
  upstreams: Upstreams,
  request: GetDashboardRequest,
  ctx: HandlerContext,
  defaults: ForwardDefaults,
): Promise<MessageInitShape<typeof GetDashboardResponseSchema>> {
  if (request.pageSize < 0 || request.pageSize > 1000) {
    throw toConnectError(new InvalidArgumentError({ field: 'page_size', description: `must be 0-1000, got ${request.pageSize}` }));
  }
  if (request.modelName !== '' && !isModelName(request.modelName)) throw toConnectError(badModelName(request.modelName));
  const call = options(ctx, defaults);
  const unavailable = new Set<Section>();
  const firstPage = request.pageToken === '';
  const listing = section(unavailable, Section.BARS, () =>
    upstreams.ingestion.listSymbols({ pageSize: request.pageSize || 100, pageToken: request.pageToken }, call),
  );
  const predictions = listing.then((page) =>
    page && page.symbols.length
      ? section(unavailable, Section.PREDICTIONS, () =>
          upstreams.prediction.predictBatch({ symbols: page.symbols.map((s) => s.symbol), modelName: request.modelName }, call),
        )
      : undefined,
  );
  const models = firstPage
    ? section(unavailable, Section.MODELS, () => upstreams.registry.listModels({ stage: Stage.PRODUCTION, pageSize: 100 }, call))
    : undefined;
  const alerts = firstPage
    ? section(unavailable, Section.ALERTS, () => upstreams.monitoring.listAlerts({ state: AlertState.FIRING, pageSize: 100 }, call))
    : undefined;
  const [page, batch, production, firing] = await Promise.all([listing, predictions, models, alerts]);
  const latest = new Map(
    batch?.results.flatMap((r) => (r.outcome.case === 'prediction' ? [[r.symbol, r.outcome.value] as const] : [])) ?? [],
  );
  return {
    symbols: page?.symbols.map((info) => ({ info, latestPrediction: latest.get(info.symbol) })) ?? [],
    nextPageToken: page?.nextPageToken ?? '',
    productionModels: production?.modelVersions ?? [],
    firingAlerts: firing?.alerts ?? [],
    unavailableSections: [...unavailable].sort(),
    generatedAt: timestampNow(),
  };
}

/** GetSymbolOverview. */
export async function getSymbolOverview(
  upstreams: Upstreams,
  request: GetSymbolOverviewRequest,
  ctx: HandlerContext,
  defaults: ForwardDefaults,
): Promise<MessageInitShape<typeof GetSymbolOverviewResponseSchema>> {
  let symbol: string;
  try {
    symbol = requireSymbol(request.symbol);
    if (request.range) rangeBounds(request.range, 'range');
    if (request.modelName !== '' && !isModelName(request.modelName)) throw badModelName(request.modelName);
    if (request.windowDays < 0 || request.windowDays > 3650)
      throw new InvalidArgumentError({ field: 'window_days', description: `must be 0-3650, got ${request.windowDays}` });
  } catch (error) {
    throw toConnectError(error);
  }
  const call = options(ctx, defaults);
  const unavailable = new Set<Section>();
  // Every bar of the symbol, so the info (first day, count) is exact; the range picks what is returned.
  const bars = (async () => {
    const all: Bar[] = [];
    for await (const part of upstreams.ingestion.getBars({ symbol }, { ...call, timeoutMs: call.timeoutMs })) all.push(...part.bars);
    return all;
  })();
  const prediction = section(unavailable, Section.PREDICTIONS, () =>
    upstreams.prediction.predict({ symbol, modelName: request.modelName }, call),
  );
  const alerts = section(unavailable, Section.ALERTS, () =>
    upstreams.monitoring.listAlerts({ state: AlertState.FIRING, symbol, pageSize: 100 }, call),
  );
  const performance = prediction.then((p) => {
    const modelName = request.modelName || p?.prediction?.modelName;
    if (!modelName) return undefined;
    return section(unavailable, Section.PERFORMANCE, () =>
      upstreams.monitoring.getModelPerformance({ modelName, symbol, windowDays: request.windowDays }, call),
    );
  });
  let all: Bar[] | undefined;
  try {
    all = await bars;
  } catch (error) {
    // An unknown symbol is the caller's answer (NOT_FOUND); anything else leaves the bars out.
    if ((error as { code?: number }).code === 5) throw toConnectError(error);
    unavailable.add(Section.BARS);
  }
  const [predicted, firing, report] = await Promise.all([prediction, alerts, performance]);
  const selected = all ? selectBars(all, request) : [];
  const last = all?.at(-1);
  return {
    info: all ? { symbol, firstDate: all[0]?.date, lastDate: last?.date, barCount: BigInt(all.length), lastBar: last } : { symbol },
    bars: selected,
    latestPrediction: predicted?.prediction,
    performance: report?.report,
    alerts: firing?.alerts ?? [],
    unavailableSections: [...unavailable].sort(),
  };
}

const dayNumber = (d: { year: number; month: number; day: number } | undefined) => (d ? d.year * 10_000 + d.month * 100 + d.day : 0);

/** The bars of the asked range (inclusive), or the last 120 sessions; at most the latest 5,000. */
function selectBars(all: Bar[], request: GetSymbolOverviewRequest): Bar[] {
  const range = request.range;
  if (!range || (!range.start && !range.end)) return all.slice(-DEFAULT_SESSIONS);
  const from = dayNumber(range.start);
  const to = range.end ? dayNumber(range.end) : Number.MAX_SAFE_INTEGER;
  return all.filter((b) => dayNumber(b.date) >= from && dayNumber(b.date) <= to).slice(-MAX_BARS);
}
