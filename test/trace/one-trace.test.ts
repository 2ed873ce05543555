/**
 * One trace follows a bar through the mesh: ImportCsv (ingestion) → BarsIngested → feature
 * computation (feature) → FeaturesComputed → a watched prediction (prediction) → PredictionsMade
 * → scoring (monitoring). The services run in this process around one tracer provider whose spans
 * land in memory; the trace context crosses every hop the way it does between processes, in gRPC
 * metadata and NATS headers, because each hop is a real socket.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing, stopTracing } from '../../lib/telemetry/tracing.js';

// Tracing must hook @grpc/grpc-js before anything loads it: everything else is imported below.
const exported = new InMemorySpanExporter();
startTracing({ serviceName: 'trace-test', processors: [new SimpleSpanProcessor(exported)] });

const { IngestionService } = await import('../../gen/nepse/ingestion/v1/ingestion_pb.js');
const { createGrpcClient } = await import('../../lib/grpc/index.js');
const { waitFor } = await import('../../lib/events/testing.js');
const { dayOf, nextTradingDay } = await import('../../lib/market/index.js');
const { startIngestion } = await import('../../services/ingestion/service.js');
const { ingestionConfig } = await import('../../services/ingestion/config.js');
const { startMonitoring } = await import('../../services/monitoring/service.js');
const { monitoringConfig } = await import('../../services/monitoring/config.js');
const { startPredictionBed } = await import('../../testing/prediction-bed.js');

type Bed = Awaited<ReturnType<typeof startPredictionBed>>;

describe('tracing across the mesh', () => {
  let bed: Bed;
  let dataDir: string;
  let ingestion: ReturnType<typeof createGrpcClient<typeof IngestionService>>;
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    bed = await startPredictionBed({ symbols: ['NABIL'] });
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-trace-'));
    const env = { NATS_URL: bed.nats.url, DATA_DIR: dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    const ingestionService = await startIngestion(ingestionConfig({ ...env, INGESTION_PORT: '0', INGESTION_METRICS_PORT: '0' }));
    stops.push(() => ingestionService.stop());
    ingestion = createGrpcClient(IngestionService, `127.0.0.1:${ingestionService.port}`);
    stops.push(async () => ingestion.close());
    const monitoring = await startMonitoring(
      monitoringConfig({ ...env, MONITORING_PORT: '0', MONITORING_METRICS_PORT: '0', NEPSE_REGISTRY_ADDR: '127.0.0.1:9' }),
    );
    stops.push(() => monitoring.stop());
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await bed?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await stopTracing();
  });

  it('follows a bar from ImportCsv to monitoring under one trace id', async () => {
    const last = bed.bars.get('NABIL')!.at(-1)!;
    const day = nextTradingDay(last.date);
    const close = +(last.close * 1.01).toFixed(2);

    const watch = bed.client.watchPredictions({ symbols: ['NABIL'] });
    const predicted = (async () => {
      for await (const message of watch) {
        if (message.kind.case === 'prediction' && dayOf(message.kind.value.featureDate) === day) return message.kind.value;
      }
      throw new Error('the watch ended');
    })();
    // The watch is open once its first heartbeat could arrive; a bar sent earlier could be missed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    exported.reset();

    const csv = `Symbol,Date,Open,High,Low,Close,Volume\nNABIL,${day},${last.close},${(close * 1.005).toFixed(2)},${(last.close * 0.995).toFixed(2)},${close},5000\n`;
    const imported = await ingestion.importCsv([{ chunk: new TextEncoder().encode(csv) }]);
    assert.equal(imported.barsNew, 1n);
    const prediction = await predicted;
    assert.equal(prediction.symbol, 'NABIL');

    const importSpan = () => exported.getFinishedSpans().find((s) => s.name.endsWith('ImportCsv') && s.kind === 1 /* SERVER */);
    await waitFor(() => importSpan() !== undefined, 'the ImportCsv server span', { timeoutMs: 10_000 });
    const traceId = importSpan()!.spanContext().traceId;
    const inTrace = () => exported.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const consumedBy = (spans: ReadableSpan[], event: string) =>
      spans.filter((s) => s.name === `process ${event}`).map((s) => String(s.attributes['messaging.consumer.group.name']));
    await waitFor(
      () => consumedBy(inTrace(), 'predictions.made').some((d) => d.startsWith('monitoring')),
      'monitoring to consume the prediction in the same trace',
      { timeoutMs: 20_000 },
    );

    const spans = inTrace();
    const services = new Set<string>(['ingestion']);
    for (const durable of [
      ...consumedBy(spans, 'bars.ingested'),
      ...consumedBy(spans, 'features.computed'),
      ...consumedBy(spans, 'predictions.made'),
    ]) {
      services.add(durable.split('-')[0]);
    }
    assert.ok(
      consumedBy(spans, 'bars.ingested').some((d) => d.startsWith('feature')),
      'feature computed from the imported bar in this trace',
    );
    assert.ok(
      consumedBy(spans, 'features.computed').some((d) => d.startsWith('prediction')),
      'prediction heard FeaturesComputed in this trace',
    );
    assert.ok(
      spans.some((s) => s.name === 'send features.computed'),
      'FeaturesComputed was sent in this trace',
    );
    assert.deepEqual([...services].sort(), ['feature', 'ingestion', 'monitoring', 'prediction']);
  });
});
