import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  GetBarsResponseSchema,
  ListSymbolsResponseSchema,
  type GetBarsRequest,
  type GetBarsResponse,
  type ListSymbolsRequest,
  type ListSymbolsResponse,
} from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { NotFoundError, type CallContext } from '../../lib/grpc/index.js';
import { decodePageToken, encodePageToken, pageSize, rangeBounds, requireSymbol, toProtoDate } from '../../lib/market/index.js';
import { toProtoBar } from './convert.js';
import type { BarStore } from './store.js';

/** Bars per GetBars response message (ingestion.proto). */
export const BARS_PER_MESSAGE = 1000;

/** GetBars: one symbol's bars in a date range, in date order, a page of bars per message. */
export async function* getBars(bars: BarStore, request: GetBarsRequest, context: CallContext): AsyncIterable<GetBarsResponse> {
  const symbol = requireSymbol(request.symbol);
  const { from, to } = rangeBounds(request.range, 'range');
  let after: string | undefined;
  let sent = 0;
  while (!context.signal.aborted) {
    const page = await bars.page(symbol, from, to, after, BARS_PER_MESSAGE);
    if (page.length === 0) break;
    sent += page.length;
    yield create(GetBarsResponseSchema, { bars: page.map(toProtoBar) });
    if (page.length < BARS_PER_MESSAGE) break;
    after = page[page.length - 1].date;
  }
  if (sent === 0 && !(await bars.hasSymbol(symbol))) throw new NotFoundError('symbol', symbol);
}

/** ListSymbols: every symbol with bars, in name order, with its coverage and latest bar. */
export async function listSymbols(bars: BarStore, request: ListSymbolsRequest): Promise<ListSymbolsResponse> {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken);
  const rows = await bars.symbols(after, size + 1);
  const page = rows.slice(0, size);
  return create(ListSymbolsResponseSchema, {
    symbols: page.map((s) => ({
      symbol: s.symbol,
      firstDate: toProtoDate(s.firstDate),
      lastDate: toProtoDate(s.lastDate),
      barCount: BigInt(s.bars),
      lastBar: toProtoBar(s.lastBar),
      updatedAt: timestampFromDate(s.updatedAt),
    })),
    nextPageToken: rows.length > size ? encodePageToken(page[page.length - 1].symbol) : '',
  });
}
