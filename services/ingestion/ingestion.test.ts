import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DateOrder, IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { connectEvents, EVENTS_STREAM, type EventBus } from '../../lib/events/index.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient, statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { ingestionConfig } from './config.js';
import { startIngestion, type RunningIngestion } from './service.js';
import { dayOf, toProtoDate } from '../../lib/market/index.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe('ingestion service over gRPC with NATS and embedded ClickHouse', () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let service: RunningIngestion;
  let client: ServiceClient<typeof IngestionService>;
  let bus: EventBus;

  /** Messages stored for a subject filter of the events stream. */
  const storedEvents = async (filter = 'nepse.v1.bars.ingested.>') => {
    const info = await bus.jsm.streams.info(EVENTS_STREAM, { subjects_filter: filter });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  };
  const barCount = async (symbol: string) => {
    let n = 0;
    for await (const page of client.getBars({ symbol })) n += page.bars.length;
    return n;
  };
  /** BarsIngested publishes that JetStream dropped as duplicates, from the service's /metrics. */
  const publishedDuplicates = async () => {
    const text = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
    return Number(/^nepse_events_published_total\{event="bars.ingested",duplicate="true"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-ingestion-'));
    const config = ingestionConfig({
      NATS_URL: nats.url,
      DATA_DIR: dataDir,
      INGESTION_PORT: '0',
      INGESTION_METRICS_PORT: '0',
      BIND_HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      INGESTION_OUTBOX_INTERVAL_MS: '200',
    });
    service = await startIngestion(config);
    client = createGrpcClient(IngestionService, `127.0.0.1:${service.port}`);
    bus = await connectEvents({ servers: nats.url, name: 'ingestion-test' });
  });

  after(async () => {
    client?.close();
    await bus?.close();
    await service?.stop();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('imports the same CSV twice: one copy of each bar, no duplicate events', async () => {
    const csv = encode(
      'Symbol,Date,Open,High,Low,Close,Volume,Turnover\n' +
        'NABIL,2024-01-02,500,510,495,505,1000,505000\n' +
        'NABIL,2024-01-03,505,515,500,512,1200,614400\n' +
        'NICA,2024-01-02,800,810,790,805,500,402500\n',
    );
    const first = await client.importCsv([{ options: { source: 'twice' } }, { chunk: csv }]);
    assert.equal(first.barsNew, 3n);
    assert.deepEqual(first.symbols, ['NABIL', 'NICA']);
    assert.equal(await storedEvents(), 2, 'one BarsIngested per symbol');

    const second = await client.importCsv([{ options: { source: 'twice' } }, { chunk: csv }]);
    assert.equal(second.barsNew, 0n);
    assert.equal(second.barsChanged, 0n);
    assert.equal(second.barsUnchanged, 3n);
    assert.equal(await barCount('NABIL'), 2);
    assert.equal(await barCount('NICA'), 1);
    assert.equal(await storedEvents(), 2, 're-importing publishes nothing');

    const symbols = await client.listSymbols({});
    assert.deepEqual(
      symbols.symbols.map((s) => [s.symbol, s.barCount]),
      [
        ['NABIL', 2n],
        ['NICA', 1n],
      ],
    );
  });

  it('a corrected bar replaces the stored one and is announced as changed', async () => {
    const response = await client.importCsv([
      { chunk: encode('Symbol,Date,Open,High,Low,Close,Volume\nNICA,2024-01-02,800,810,790,807,500\n') },
    ]);
    assert.equal(response.barsChanged, 1n);
    const [page] = await Array.fromAsync(client.getBars({ symbol: 'NICA' }));
    assert.equal(page.bars[0].close, 807);
    assert.equal(page.bars[0].turnover, undefined, 'the corrected row carried no turnover');
    assert.equal(await storedEvents('nepse.v1.bars.ingested.NICA'), 2);
  });

  it('reports rejected rows with line numbers and reasons, keeping the valid ones', async () => {
    const response = await client.importCsv([
      {
        chunk: encode(
          'Symbol,Date,Open,High,Low,Close,Volume\n' +
            'SHL,2024-01-02,200,210,195,205,100\n' +
            'SHL,2024-01-03,200,190,195,205,100\n' +
            'SHL,2999-01-01,200,210,195,205,100\n' +
            'SHL,2024-01-04,200,210,195,205,100\n',
        ),
      },
    ]);
    assert.equal(response.rowsRead, 4n);
    assert.equal(response.rowsAccepted, 2n);
    assert.equal(response.rowsRejected, 2n);
    assert.deepEqual(
      response.rejectedRows.map((r) => [r.line, r.field]),
      [
        [3n, 'low'],
        [4n, 'date'],
      ],
    );
    assert.match(response.rejectedRows[0].reason, /low 195 is above high 190/);
    assert.equal(await barCount('SHL'), 2);
  });

  it('refuses malformed files with INVALID_ARGUMENT naming the field, leaving nothing behind', async () => {
    const before = { events: await storedEvents('>'), symbols: (await client.listSymbols({})).symbols.length };
    const cases: [string, AsyncIterable<{ chunk: Uint8Array }> | { chunk: Uint8Array }[]][] = [
      [
        'binary',
        [
          { chunk: encode('Symbol,Date,Open,High,Low,Close,Volume\nAAA,2024-01-02,1,1,1,1,1\n') },
          { chunk: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0]) },
        ],
      ],
      ['no header', [{ chunk: encode('hello,world\n'.repeat(50)) }]],
      [
        'a 1 GiB single line',
        (async function* () {
          const mib = new Uint8Array(1 << 20).fill(0x61);
          for (let i = 0; i < 1024; i++) yield { chunk: mib };
        })(),
      ],
    ];
    for (const [name, requests] of cases) {
      await assert.rejects(client.importCsv(requests), (error: unknown) => {
        const details = statusDetails(error);
        assert.equal(details?.code, 3, `${name}: INVALID_ARGUMENT`);
        assert.equal(details?.fieldViolations[0]?.field, 'chunk', name);
        return true;
      });
    }
    assert.equal(await storedEvents('>'), before.events);
    assert.equal((await client.listSymbols({})).symbols.length, before.symbols);
    await assert.rejects(
      Promise.resolve().then(() => barCount('AAA')),
      /NOT_FOUND|not found/,
    );
  });

  it('refuses a file whose dates never tell day from month, storing nothing, and imports it once date_order is set', async () => {
    const csv = encode(
      'Symbol,Date,Open,High,Low,Close,Volume\nAMBIG,01/02/2025,10,11,9,10,100\nAMBIG,03/04/2025,10,11,9,10,100\nAMBIG,05/05/2025,10,11,9,10,100\n',
    );
    const eventsBefore = await storedEvents('>');
    await assert.rejects(client.importCsv([{ options: { fileName: 'ambiguous.csv' } }, { chunk: csv }]), (error: unknown) => {
      const details = statusDetails(error);
      assert.equal(details?.code, 3, 'INVALID_ARGUMENT');
      assert.equal(details?.fieldViolations[0]?.field, 'options.date_order');
      const description = details?.fieldViolations[0]?.description ?? '';
      assert.match(description, /01\/02\/2025 \(line 2\)/);
      assert.match(description, /03\/04\/2025 \(line 3\)/);
      assert.doesNotMatch(description, /05\/05\/2025/, 'a date that reads the same either way is not ambiguous');
      assert.match(description, /DATE_ORDER_DMY/);
      assert.match(description, /DATE_ORDER_MDY/);
      return true;
    });
    await assert.rejects(
      Promise.resolve().then(() => barCount('AMBIG')),
      /NOT_FOUND|not found/,
    );
    assert.equal(await storedEvents('>'), eventsBefore, 'nothing announced');

    const mdy = await client.importCsv([{ options: { dateOrder: DateOrder.MDY } }, { chunk: csv }]);
    assert.equal(mdy.barsNew, 3n);
    const [page] = await Array.fromAsync(client.getBars({ symbol: 'AMBIG' }));
    assert.deepEqual(
      page.bars.map((b) => dayOf(b.date)),
      ['2025-01-02', '2025-03-04', '2025-05-05'],
    );
  });

  it('reads ambiguous dates without date_order when one date of the file reveals the order', async () => {
    const response = await client.importCsv([
      { chunk: encode('Symbol,Date,Open,High,Low,Close,Volume\nREVEAL,01/02/2025,10,11,9,10,100\nREVEAL,13/02/2025,10,11,9,10,100\n') },
    ]);
    assert.equal(response.barsNew, 2n);
    const [page] = await Array.fromAsync(client.getBars({ symbol: 'REVEAL' }));
    assert.deepEqual(
      page.bars.map((b) => dayOf(b.date)),
      ['2025-02-01', '2025-02-13'],
    );
  });

  it('two concurrent imports of one file store it once, and their counts add up to what was stored', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => {
      const date = new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
      return `RACE,${date},${100 + i},${110 + i},${90 + i},${105 + i},${1000 + i}`;
    });
    const csv = encode(`Symbol,Date,Open,High,Low,Close,Volume\n${rows.join('\n')}\n`);
    const duplicatesBefore = await publishedDuplicates();
    const answers = await Promise.all([client.importCsv([{ chunk: csv }]), client.importCsv([{ chunk: csv }])]);
    assert.deepEqual(
      answers.map((a) => [a.barsNew, a.barsChanged, a.barsUnchanged]).sort(),
      [
        [0n, 0n, 300n],
        [300n, 0n, 0n],
      ],
      'one import stored the file, the other found it already there',
    );
    assert.equal(await barCount('RACE'), 300);
    assert.equal(await storedEvents('nepse.v1.bars.ingested.RACE'), 1);
    assert.equal(await publishedDuplicates(), duplicatesBefore, 'the event was published once, not dropped by JetStream as a duplicate');
  });

  it('concurrent IngestBars and ImportCsv of the same bars count each bar new once', async () => {
    const days = Array.from({ length: 200 }, (_, i) => new Date(Date.UTC(2021, 0, 1) + i * 86_400_000).toISOString().slice(0, 10));
    const bars = days.map((date, i) => ({
      symbol: 'RACEB',
      date: toProtoDate(date),
      open: 50 + i,
      high: 60 + i,
      low: 40 + i,
      close: 55 + i,
      volume: 10,
    }));
    const csv = encode(
      `Symbol,Date,Open,High,Low,Close,Volume\n${days.map((d, i) => `RACEB,${d},${50 + i},${60 + i},${40 + i},${55 + i},10`).join('\n')}\n`,
    );
    const duplicatesBefore = await publishedDuplicates();
    const [a, b, c] = await Promise.all([client.ingestBars([{ bars }]), client.ingestBars([{ bars }]), client.importCsv([{ chunk: csv }])]);
    assert.equal(a.barsNew + b.barsNew + c.barsNew, 200n);
    assert.equal(a.barsUnchanged + b.barsUnchanged + c.barsUnchanged, 400n);
    assert.equal(await barCount('RACEB'), 200);
    assert.equal(await storedEvents('nepse.v1.bars.ingested.RACEB'), 1);
    assert.equal(await publishedDuplicates(), duplicatesBefore);
  });

  it('streams GetBars in date order across pages, whatever order the bars came in', async () => {
    const days: string[] = [];
    for (let d = new Date(Date.UTC(2015, 0, 1)); days.length < 2500; d = new Date(d.getTime() + 86_400_000))
      days.push(d.toISOString().slice(0, 10));
    const shuffled = [...days].sort(() => Math.random() - 0.5);
    const bars = shuffled.map((date, i) => ({
      symbol: 'ORDR',
      date: toProtoDate(date),
      open: 100 + (i % 7),
      high: 120,
      low: 90,
      close: 100,
      volume: 10,
    }));
    const response = await client.ingestBars([{ bars: bars.slice(0, 1200) }, { bars: bars.slice(1200) }]);
    assert.equal(response.barsNew, 2500n);
    const pages = await Array.fromAsync(client.getBars({ symbol: 'ORDR' }));
    assert.deepEqual(
      pages.map((p) => p.bars.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(
      pages.flatMap((p) => p.bars.map((b) => dayOf(b.date))),
      days,
    );
    const ranged = await Array.fromAsync(
      client.getBars({ symbol: 'ordr', range: { start: toProtoDate('2016-01-01'), end: toProtoDate('2016-01-31') } }),
    );
    assert.equal(ranged.flatMap((p) => p.bars).length, 31);
  });

  it('IngestBars keeps valid bars and names the fields of invalid ones', async () => {
    const response = await client.ingestBars([
      {
        bars: [
          { symbol: 'good', date: toProtoDate('2024-02-01'), open: 10, high: 11, low: 9, close: 10.5, volume: 5 },
          { symbol: 'GOOD', date: toProtoDate('2024-02-02'), open: 10, high: 11, low: 9, close: Number.NaN, volume: 5 },
          { symbol: 'GOOD', open: 10, high: 11, low: 9, close: 10, volume: 5 },
          { symbol: 'GOOD', date: toProtoDate('2024-02-03'), open: 10, high: 11, low: 9, close: 10, volume: 5, turnover: -1 },
        ],
      },
    ]);
    assert.equal(response.barsAccepted, 1n);
    assert.deepEqual(
      response.rejectedBars.map((r) => [r.index, r.field]),
      [
        [1n, 'bars[1].close'],
        [2n, 'bars[2].date'],
        [3n, 'bars[3].turnover'],
      ],
    );
  });

  it('validates request fields', async () => {
    await assert.rejects(
      Array.fromAsync(client.getBars({ symbol: 'bad symbol!' })),
      (e: unknown) => statusDetails(e)?.fieldViolations[0]?.field === 'symbol',
    );
    await assert.rejects(
      Array.fromAsync(client.getBars({ symbol: 'NABIL', range: { start: toProtoDate('2024-02-01'), end: toProtoDate('2024-01-01') } })),
      (e: unknown) => statusDetails(e)?.fieldViolations[0]?.field === 'range.end',
    );
    await assert.rejects(client.listSymbols({ pageSize: -1 }), (e: unknown) => statusDetails(e)?.fieldViolations[0]?.field === 'page_size');
    await assert.rejects(
      client.listSymbols({ pageToken: 'garbage' }),
      (e: unknown) => statusDetails(e)?.fieldViolations[0]?.field === 'page_token',
    );
  });

  it('pages ListSymbols', async () => {
    const all = (await client.listSymbols({ pageSize: 1000 })).symbols.map((s) => s.symbol);
    const paged: string[] = [];
    let token = '';
    do {
      const page = await client.listSymbols({ pageSize: 2, pageToken: token });
      paged.push(...page.symbols.map((s) => s.symbol));
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(paged, all);
  });

  it('events of bars stored while NATS was down are delivered once it is back', async () => {
    const received: string[] = [];
    process.kill(nats.pid as number, 'SIGKILL');
    const response = await client.importCsv([
      { chunk: encode('Symbol,Date,Open,High,Low,Close,Volume\nOUTBOX,2024-01-02,10,11,9,10,100\n') },
    ]);
    assert.equal(response.barsNew, 1n, 'bars are stored even while NATS is down');
    await nats.restart();
    // JetStream answers a moment after the server accepts connections again.
    await waitFor(async () => Boolean(await bus.jsm.streams.info(EVENTS_STREAM)), 'JetStream after the restart', {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    const consumer = await bus.consume(
      MeshEvents.barsIngested,
      { durable: 'outbox-test', keys: ['OUTBOX'], ackWaitMs: 5_000 },
      async (event) => {
        received.push(event.symbol);
      },
    );
    try {
      await waitFor(() => received.length > 0, 'the outbox to re-send the event', { timeoutMs: 20_000 });
      assert.deepEqual(received, ['OUTBOX']);
    } finally {
      await consumer.stop();
    }
  });

  it('exposes RPC and event metrics on /metrics, and readiness on /readyz', async () => {
    const text = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    assert.ok(value(/^nepse_events_published_total\{event="bars.ingested",duplicate="false"\} (\d+)$/m) >= 3);
    assert.ok(
      value(
        /^grpc_server_handled_total\{grpc_service="nepse.ingestion.v1.IngestionService",grpc_method="ImportCsv",grpc_type="client_stream",grpc_code="OK"\} (\d+)$/m,
      ) >= 3,
    );
    assert.ok(value(/^grpc_server_handled_total\{[^}]*grpc_method="ImportCsv"[^}]*grpc_code="INVALID_ARGUMENT"\} (\d+)$/m) >= 3);
    assert.equal((await fetch(`http://127.0.0.1:${service.metricsPort}/readyz`)).status, 200);
  });

  it('answers grpcurl-style calls by reflection, with no .proto files', async () => {
    // buf curl runs as a child process; it must not block this process, which serves the calls.
    const run = promisify(execFile);
    const buf = join(process.cwd(), 'node_modules/.bin/buf');
    const target = `http://127.0.0.1:${service.port}`;
    const list = await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-services', target], { timeout: 30_000 });
    assert.deepEqual(list.stdout.trim().split('\n').sort(), [
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'nepse.ingestion.v1.IngestionService',
    ]);
    const call = await run(
      buf,
      [
        'curl',
        '--protocol',
        'grpc',
        '--http2-prior-knowledge',
        '-d',
        '{"pageSize": 2}',
        `${target}/nepse.ingestion.v1.IngestionService/ListSymbols`,
      ],
      { timeout: 30_000 },
    );
    const body = JSON.parse(call.stdout) as { symbols: { symbol: string }[]; nextPageToken: string };
    assert.equal(body.symbols.length, 2);
    assert.ok(body.nextPageToken);
  });
});
