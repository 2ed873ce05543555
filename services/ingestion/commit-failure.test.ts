import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { connectEvents, ensureStreams, EVENTS_STREAM, type EventBus } from '../../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient, isServiceError, type ServiceClient } from '../../lib/grpc/index.js';
import { hostServices, type Host } from '../../lib/runtime/index.js';
import { openServiceStore, StoreError, type Store } from '../../lib/store/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import type { BarRecord } from './bar.js';
import { commitBatch, type CommitDeps } from './commit-batch.js';
import { CommitGate } from './commit-gate.js';
import { ingestionConfig } from './config.js';
import { relayOutbox } from './outbox-relay.js';
import { ingestionHandlers } from './service.js';
import { BarStore, MIGRATIONS, type OutboxEntry } from './store.js';

/** A write refused for lack of disk space, as the chdb driver reports ClickHouse's NOT_ENOUGH_SPACE. */
function diskFull(): StoreError {
  const cause = Object.assign(new Error('Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)'), {
    code: 'CHDB_QUERY',
    clickhouseCode: 243,
  });
  return new StoreError(cause.message, { clickhouseCode: 243, cause });
}

/** The real store, except that the write named in `failing` is refused as on a full disk. */
class DiskFillingBarStore extends BarStore {
  failing: 'outbox' | 'bars' | undefined;

  override async enqueue(entries: readonly OutboxEntry[], createdAt?: Date): Promise<void> {
    if (this.failing === 'outbox') throw diskFull();
    return super.enqueue(entries, createdAt);
  }

  override async insert(bars: readonly BarRecord[], ingestedAt?: Date): Promise<void> {
    if (this.failing === 'bars') throw diskFull();
    return super.insert(bars, ingestedAt);
  }
}

/** The service's handlers over embedded ClickHouse and a real nats-server, with the store's writes failing on demand. */
describe('ingestion when its store cannot write', () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let store: Store;
  let bus: EventBus;
  let bars: DiskFillingBarStore;
  let deps: CommitDeps;
  let host: Host;
  let client: ServiceClient<typeof IngestionService>;

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-commit-failure-'));
    ({ store } = await openServiceStore(ingestionConfig({ DATA_DIR: dataDir, NATS_URL: nats.url }), 'ingestion', MIGRATIONS));
    bus = await connectEvents({ servers: nats.url, name: 'commit-failure-test' });
    await ensureStreams(bus, { replicas: 1 });
    bars = new DiskFillingBarStore(store);
    const logger = createLogger('ingestion', 'silent');
    deps = { bars, events: bus, logger, gate: new CommitGate() };
    host = await hostServices({ services: [ingestionHandlers(deps)], port: 0, metricsPort: 0, host: '127.0.0.1', logger });
    host.setReady(true);
    client = createGrpcClient(IngestionService, `127.0.0.1:${host.port}`);
  });

  after(async () => {
    client?.close();
    await host?.stop();
    await bus?.close();
    await store?.close();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const storedEvents = async (symbol: string) => {
    const info = await bus.jsm.streams.info(EVENTS_STREAM, { subjects_filter: `nepse.v1.bars.ingested.${symbol}` });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  };
  const barCount = async (symbol: string) => {
    try {
      let n = 0;
      for await (const page of client.getBars({ symbol })) n += page.bars.length;
      return n;
    } catch (error) {
      if (isServiceError(error) && error.code === grpc.status.NOT_FOUND) return 0;
      throw error;
    }
  };
  const listed = async (symbol: string) => (await client.listSymbols({ pageSize: 1000 })).symbols.some((s) => s.symbol === symbol);
  const csvOf = (symbol: string, days: number) => {
    let text = 'Symbol,Date,Open,High,Low,Close,Volume\n';
    for (let i = 0; i < days; i++)
      text += `${symbol},2024-02-${String(i + 1).padStart(2, '0')},${100 + i},${110 + i},${95 + i},${105 + i},1000\n`;
    return new TextEncoder().encode(text);
  };
  const importOf = (symbol: string, days: number) =>
    client.importCsv([{ options: { source: 'disk-full' } }, { chunk: csvOf(symbol, days) }]);

  for (const failing of ['outbox', 'bars'] as const) {
    it(`a failed ${failing === 'outbox' ? 'outbox' : 'bars'} write answers RESOURCE_EXHAUSTED naming the store, leaves nothing visible, and a retry stores and announces each bar once`, async () => {
      const symbol = failing === 'outbox' ? 'FULLOUTBOX' : 'FULLBARS';
      bars.failing = failing;
      await assert.rejects(importOf(symbol, 5), (error: unknown) => {
        assert.ok(isServiceError(error));
        assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED, error.message);
        assert.match(error.details, /ClickHouse \(embedded\) is out of disk space/);
        return true;
      });
      assert.equal(await barCount(symbol), 0, 'no bar of the failed import is served');
      assert.equal(await listed(symbol), false, 'the symbol is not listed');

      // Relay passes while the disk is still full and after it recovers announce nothing of it.
      await relayOutbox(deps, 100);
      bars.failing = undefined;
      const pass = await relayOutbox(deps, 100);
      assert.equal(pass.resent, 0);
      assert.equal(await storedEvents(symbol), 0, 'nothing announced for bars never stored');

      const retry = await importOf(symbol, 5);
      assert.equal(retry.barsNew, 5n);
      assert.equal(await barCount(symbol), 5);
      assert.equal(await listed(symbol), true);
      // Later relay passes find nothing left to send for it.
      await relayOutbox(deps, 100);
      await relayOutbox(deps, 100);
      assert.equal(await storedEvents(symbol), 1, 'one BarsIngested for the five bars');
      const again = await importOf(symbol, 5);
      assert.equal(again.barsNew, 0n);
      assert.equal(again.barsUnchanged, 5n);
      assert.equal(await storedEvents(symbol), 1);
    });
  }

  it('an event left without its bars does not hold up the outbox behind it', async () => {
    // More entries without bars than a relay pass reads.
    bars.failing = 'bars';
    for (let i = 0; i < 3; i++) await assert.rejects(importOf(`ORPHAN${i}`, 2));
    bars.failing = undefined;
    const events = Object.assign(Object.create(bus) as EventBus, {
      publish: async () => {
        throw new Error('NATS is down');
      },
    });
    // An event NATS did not take, recorded after them.
    await commitBatch(
      { ...deps, events },
      [{ symbol: 'LATE', date: '2024-03-01', open: 1, high: 2, low: 1, close: 2, volume: 10 }],
      'late',
      'test',
    );
    assert.equal(await storedEvents('LATE'), 0);
    await relayOutbox(deps, 2);
    await relayOutbox(deps, 2);
    await relayOutbox(deps, 2);
    assert.equal(await storedEvents('LATE'), 1, 'the unsent event behind the orphans is sent');
    for (let i = 0; i < 3; i++) assert.equal(await storedEvents(`ORPHAN${i}`), 0);
  });
});
