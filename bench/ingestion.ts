/**
 * Ingestion throughput: bars per second through IngestBars (gRPC client stream) into embedded
 * ClickHouse with BarsIngested events published, beside raw chdb inserts measured in the same run.
 * The stream is sent by a raw grpc-js client with its messages encoded up front, like the Predict
 * rows of bench/prediction.ts, so the figure is the service's.
 * Run: `make bench ONLY=ingestion` or `npm run bench -- ingestion`.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IngestBarsRequestSchema,
  IngestBarsResponseSchema,
  IngestionService,
  type IngestBarsRequest,
  type IngestBarsResponse,
} from '../gen/nepse/ingestion/v1/ingestion_pb.js';
import { connectEvents, EVENTS_STREAM } from '../lib/events/index.js';
import { startNatsServer } from '../lib/events/testing.js';
import type { GrpcJs } from '../lib/grpc/grpc-js.js';
import { createRawClient, type RawClient } from './raw-client.js';
import { benchInsert } from './chdb-insert.js';
import { startServiceProcess } from '../lib/runtime/service-process.js';
import { printTable, rate, secondsSince } from './format.js';

const SYMBOLS = 200;
const DAYS = 2500;
const BARS_PER_MESSAGE = 5000;

/** 200 symbols x 2,500 trading days of plausible bars, as stream messages of 5,000 bars. */
function messages(): IngestBarsRequest[] {
  const out: IngestBarsRequest[] = [];
  let bars: IngestBarsRequest['bars'] = [];
  for (let s = 0; s < SYMBOLS; s++) {
    let close = 100 + s;
    for (let d = 0; d < DAYS; d++) {
      const date = new Date(Date.UTC(2010, 0, 1) + d * 86_400_000);
      const open = close;
      close = Math.max(1, close * (1 + Math.sin(s * 31 + d) * 0.02));
      bars.push({
        $typeName: 'nepse.market.v1.Bar',
        symbol: `SYM${String(s).padStart(3, '0')}`,
        date: { $typeName: 'nepse.market.v1.Date', year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() },
        open,
        high: Math.max(open, close) * 1.01,
        low: Math.min(open, close) * 0.99,
        close,
        volume: 1000 + d,
        turnover: (1000 + d) * close,
        trades: BigInt(10 + (d % 50)),
      });
      if (bars.length === BARS_PER_MESSAGE) {
        out.push(create(IngestBarsRequestSchema, { bars, source: 'bench' }));
        bars = [];
      }
    }
  }
  if (bars.length) out.push(create(IngestBarsRequestSchema, { bars, source: 'bench' }));
  return out;
}

/** One IngestBars call of already encoded request messages through the raw client; the decoded response. */
function ingestRaw(client: RawClient, messages: readonly Buffer[]): Promise<IngestBarsResponse> {
  return new Promise((resolve, reject) => {
    const call = client.IngestBars({ deadline: Date.now() + 600_000 }, (error: Error | null, bytes: Buffer) =>
      error ? reject(error) : resolve(fromBinary(IngestBarsResponseSchema, bytes)),
    ) as GrpcJs.ClientWritableStream<Buffer>;
    // Written as the channel takes them, so the whole stream is never buffered at once.
    let next = 0;
    const write = () => {
      while (next < messages.length) if (!call.write(messages[next++])) return void call.once('drain', write);
      call.end();
    };
    write();
  });
}

export async function benchIngestion(): Promise<void> {
  const total = SYMBOLS * DAYS;
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-bench-ingestion-'));
  const service = await startServiceProcess('ingestion', { env: { NATS_URL: nats.url, DATA_DIR: dataDir } });
  const client = createRawClient(`127.0.0.1:${service.port}`, IngestionService.methods);
  const bus = await connectEvents({ servers: nats.url, name: 'bench' });
  try {
    // Encoded once, before the clock starts: the rows compare servers, as the Predict rows do,
    // not this process's reflective protobuf encoder (which would cost more than the service).
    const stream = messages().map((m) => Buffer.from(toBinary(IngestBarsRequestSchema, m)));
    let start = performance.now();
    const first = await ingestRaw(client, stream);
    const fresh = secondsSince(start);
    const info = await bus.jsm.streams.info(EVENTS_STREAM);
    if (first.barsNew !== BigInt(total)) throw new Error(`expected ${total} new bars, got ${first.barsNew}`);

    start = performance.now();
    const again = await ingestRaw(client, stream);
    const repeat = secondsSince(start);
    if (again.barsUnchanged !== BigInt(total)) throw new Error(`expected ${total} unchanged bars on repeat, got ${again.barsUnchanged}`);
    const infoAfter = await bus.jsm.streams.info(EVENTS_STREAM);

    const raw = await benchInsert({ rows: 200_000, repeats: 3, filter: 'raw chdb: prebuilt JSONCompactEachRow' });
    const store = await benchInsert({ rows: 200_000, repeats: 3, filter: 'Store.insert' });
    const rawRate = raw.results[0].rowsPerSecond;
    const e2e = total / fresh;
    printTable(
      `ingestion: ${rate(total)} bars (${SYMBOLS} symbols x ${DAYS} days), ${BARS_PER_MESSAGE} bars per stream message sent pre-encoded by a raw client, chdb ${raw.engineVersion}`,
      [
        ['path', 'bars/s', 'seconds', 'ratio to raw chdb'],
        ['IngestBars end to end, new bars (+ events)', rate(e2e), fresh.toFixed(2), (e2e / rawRate).toFixed(2)],
        ['IngestBars end to end, same bars again (no-op)', rate(total / repeat), repeat.toFixed(2), (total / repeat / rawRate).toFixed(2)],
        [
          'Store.insert (JSONCompactEachRow), in process',
          rate(store.results[0].rowsPerSecond),
          '',
          (store.results[0].rowsPerSecond / rawRate).toFixed(2),
        ],
        ['raw chdb insert, prebuilt payload (engine only)', rate(rawRate), '', '1.00'],
      ],
    );
    console.log(
      `  BarsIngested events published: ${info.state.messages} for the new bars, ${infoAfter.state.messages - info.state.messages} for the repeat`,
    );
    console.log(
      `  aims: new bars end to end >= 0.3x raw chdb of this run -> ${(e2e / rawRate).toFixed(2)}x, ${e2e / rawRate >= 0.3 ? 'met' : 'NOT met'}; >= 100,000 bars/s on a quiet machine -> ${e2e >= 100_000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    client.close();
    await bus.close();
    await service.stop();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
