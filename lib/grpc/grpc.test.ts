import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { service as healthDefinition } from 'grpc-health-check';
import {
  GetBarsResponseSchema,
  ImportCsvResponseSchema,
  IngestBarsResponseSchema,
  IngestionService,
  ListSymbolsResponseSchema,
} from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import {
  PredictionService,
  StreamPredictionsRequestSchema,
  StreamPredictionsResponseSchema,
} from '../../gen/nepse/prediction/v1/prediction_pb.js';
import {
  createGrpcClient,
  createGrpcServer,
  grpc,
  implement,
  InvalidArgumentError,
  isServiceError,
  NotFoundError,
  statusDetails,
  type CallContext,
  type CallRecord,
  type GrpcJs,
  type GrpcServer,
  type ServiceClient,
} from './index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

/** Resolves `promise`, or fails the test after `ms` instead of hanging. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection of `promise` (fails when it resolves), bounded in time. */
async function rejection(promise: Promise<unknown>, ms = 5_000): Promise<GrpcJs.ServiceError> {
  const outcome = await within(
    promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    ms,
    'the call to fail',
  );
  assert.ok(outcome !== undefined, 'expected the call to fail');
  assert.ok(isServiceError(outcome), `expected a gRPC status error, got ${String(outcome)}`);
  return outcome;
}

/** Polls `condition` every 5 ms; fails after `ms`. */
const waitUntil = (condition: () => boolean, what: string, ms = 5_000) =>
  within(
    (async () => {
      while (!condition()) await sleep(5);
    })(),
    ms,
    what,
  );

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** A push-driven async iterable, for request streams the test feeds one message at a time. */
function pushable<T>() {
  const items: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  return {
    push(item: T) {
      items.push(item);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length) yield items.shift() as T;
        else if (closed) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

const STREAM_SIZE = 5_000;
const PAD = 'X'.repeat(1_000); // ~1 KB per message: 5,000 of them far exceed the HTTP/2 windows

/** What the fake ingestion handlers saw, for assertions. */
const seen = {
  listDeadlines: [] as Array<number | undefined>,
  produced: 0,
  endless: undefined as { signal: AbortSignal; finished: Promise<void> } | undefined,
  slowAborted: false,
};

/** The ENDLESS call the handler last started (a function, so flow analysis does not pin it to undefined). */
const endlessCall = () => seen.endless;

const ingestion = implement(IngestionService, {
  async listSymbols(request, context) {
    seen.listDeadlines.push(context.deadline);
    switch (request.pageToken) {
      case 'invalid':
        throw new InvalidArgumentError({ field: 'page_size', description: 'must be between 1 and 1000' });
      case 'missing':
        throw new NotFoundError('symbol', 'NOPE');
      case 'crash':
        throw new Error('connect postgres://admin:hunter2@db failed');
      case 'slow': {
        // Answers only when the deadline cancels the call (bounded so a bug cannot hang the run).
        await Promise.race([aborted(context.signal), sleep(5_000, undefined, { ref: false })]);
        seen.slowAborted = context.signal.aborted;
        return {};
      }
    }
    return {
      symbols: [{ symbol: 'NABIL', barCount: BigInt(request.pageSize), firstDate: { year: 2024, month: 1, day: 31 } }],
      nextPageToken: `after-${request.pageSize}`,
    };
  },
  async *getBars(request, context) {
    if (request.symbol === 'MANY') {
      for (let i = 0; i < STREAM_SIZE; i++) {
        seen.produced++;
        yield { bars: [{ symbol: PAD, volume: i }] };
      }
    } else if (request.symbol === 'ENDLESS') {
      let finish = () => {};
      seen.endless = { signal: context.signal, finished: new Promise<void>((resolve) => (finish = resolve)) };
      try {
        for (let i = 0; !context.signal.aborted && i < 100_000; i++) {
          yield { bars: [{ symbol: 'ENDLESS', volume: i }] };
          await sleep(1);
        }
      } finally {
        finish();
      }
    } else if (request.symbol === 'GONE') {
      yield { bars: [{ symbol: 'GONE', volume: 1 }] };
      throw new NotFoundError('symbol', 'GONE');
    } else {
      for (let day = 1; day <= 3; day++)
        yield { bars: [{ symbol: request.symbol, date: { year: 2024, month: 2, day }, close: 100 + day }] };
    }
  },
  async ingestBars(requests) {
    let received = 0n;
    const symbols = new Set<string>();
    let source = '';
    for await (const request of requests) {
      source ||= request.source;
      for (const bar of request.bars) {
        received++;
        symbols.add(bar.symbol);
      }
    }
    return { batchId: source, barsReceived: received, barsAccepted: received, symbols: [...symbols].sort() };
  },
  async importCsv(requests) {
    let text = '';
    let fileName = '';
    for await (const request of requests) {
      if (request.options) fileName = request.options.fileName;
      text += Buffer.from(request.chunk).toString('utf8');
      if (text.includes('\0')) throw new InvalidArgumentError({ field: 'chunk', description: 'binary data' });
    }
    const rows = text.split('\n').filter((line) => line.trim() !== '').length - 1;
    return {
      batchId: fileName,
      rowsRead: BigInt(rows),
      columnMappings: text
        .split('\n')[0]
        .split(',')
        .map((header) => ({ header, field: header.toLowerCase() })),
    };
  },
});

describe('gRPC kit over a real socket', { timeout: 20_000 }, () => {
  let server: GrpcServer;
  let port: number;
  let client: ServiceClient<typeof IngestionService>;
  const records: CallRecord[] = [];
  const clientRecords: CallRecord[] = [];

  before(async () => {
    server = createGrpcServer({ services: [ingestion], observer: (record) => records.push(record) });
    port = await server.listen(0, '127.0.0.1');
    client = createGrpcClient(IngestionService, `127.0.0.1:${port}`, { observer: (record) => clientRecords.push(record) });
    await client.waitForReady(5_000);
  });

  after(async () => {
    client?.close();
    await server?.stop(1_000);
  });

  describe('the four stream kinds', () => {
    it('unary: typed request in, typed response out', async () => {
      const response = await client.listSymbols({ pageSize: 7 });
      assert.ok(isMessage(response, ListSymbolsResponseSchema));
      assert.equal(response.nextPageToken, 'after-7');
      assert.equal(response.symbols.length, 1);
      assert.equal(response.symbols[0].symbol, 'NABIL');
      assert.equal(response.symbols[0].barCount, 7n);
      const date = response.symbols[0].firstDate;
      assert.deepEqual([date?.$typeName, date?.year, date?.month, date?.day], ['nepse.market.v1.Date', 2024, 1, 31]);
    });

    it('server stream: every response in order', async () => {
      const got = [];
      for await (const response of client.getBars({ symbol: 'NABIL' })) {
        assert.ok(isMessage(response, GetBarsResponseSchema));
        got.push(...response.bars.map((bar) => [bar.symbol, bar.date?.day, bar.close]));
      }
      assert.deepEqual(got, [
        ['NABIL', 1, 101],
        ['NABIL', 2, 102],
        ['NABIL', 3, 103],
      ]);
    });

    it('client stream: an async iterable of requests, one typed response', async () => {
      async function* batches() {
        yield {
          source: 'test-feed',
          bars: [
            { symbol: 'NABIL', close: 1 },
            { symbol: 'ADBL', close: 2 },
          ],
        };
        await sleep(5);
        yield { bars: [{ symbol: 'NABIL', close: 3 }] };
      }
      const response = await client.ingestBars(batches());
      assert.ok(isMessage(response, IngestBarsResponseSchema));
      assert.equal(response.batchId, 'test-feed');
      assert.equal(response.barsReceived, 3n);
      assert.deepEqual(response.symbols, ['ADBL', 'NABIL']);
    });

    it('client stream: bytes split across chunks arrive intact', async () => {
      const csv = 'Symbol,Close\nNABIL,500\nADBL,300\n';
      const chunks = [csv.slice(0, 5), csv.slice(5, 17), csv.slice(17)].map((part) => new TextEncoder().encode(part));
      const response = await client.importCsv([
        { options: { fileName: 'prices.csv' }, chunk: chunks[0] },
        { chunk: chunks[1] },
        { chunk: chunks[2] },
      ]);
      assert.ok(isMessage(response, ImportCsvResponseSchema));
      assert.equal(response.batchId, 'prices.csv');
      assert.equal(response.rowsRead, 2n);
      assert.deepEqual(
        response.columnMappings.map((m) => [m.header, m.field]),
        [
          ['Symbol', 'symbol'],
          ['Close', 'close'],
        ],
      );
    });

    it('bidi stream: each response arrives before the next request is sent', async () => {
      const predictionServer = createGrpcServer({
        services: [
          implement(PredictionService, {
            predict: () => ({}),
            predictBatch: () => ({}),
            async *watchPredictions() {},
            async *streamPredictions(requests) {
              for await (const request of requests) {
                if (request.symbol === '') {
                  yield {
                    requestId: request.requestId,
                    outcome: { case: 'error', value: { code: grpc.status.INVALID_ARGUMENT, message: 'symbol: required' } },
                  };
                } else {
                  yield {
                    requestId: request.requestId,
                    outcome: { case: 'prediction', value: { symbol: request.symbol, predictedClose: request.modelVersion * 10 } },
                  };
                }
              }
            },
          }),
        ],
      });
      const predictionPort = await predictionServer.listen(0, '127.0.0.1');
      const predictions = createGrpcClient(PredictionService, `127.0.0.1:${predictionPort}`);
      try {
        const requests = pushable<MessageInitShape<typeof StreamPredictionsRequestSchema>>();
        const responses = predictions.streamPredictions(requests)[Symbol.asyncIterator]();
        // Ping-pong: a response to request n must arrive while request n+1 has not been written,
        // which a buffered (non-streaming) implementation could not do.
        for (const [i, symbol] of ['NABIL', '', 'ADBL'].entries()) {
          requests.push({ requestId: `r${i}`, symbol, modelVersion: i + 1 });
          const next = await within(responses.next(), 5_000, `response r${i}`);
          assert.equal(next.done, false);
          const response = next.value;
          assert.ok(isMessage(response, StreamPredictionsResponseSchema));
          assert.equal(response.requestId, `r${i}`);
          if (symbol === '') {
            assert.equal(response.outcome.case, 'error');
            assert.equal(response.outcome.value?.code, grpc.status.INVALID_ARGUMENT);
          } else {
            assert.equal(response.outcome.case, 'prediction');
            assert.equal(response.outcome.case === 'prediction' && response.outcome.value.symbol, symbol);
            assert.equal(response.outcome.case === 'prediction' && response.outcome.value.predictedClose, (i + 1) * 10);
          }
        }
        requests.close();
        const end = await within(responses.next(), 5_000, 'the end of the stream');
        assert.equal(end.done, true);
      } finally {
        predictions.close();
        await predictionServer.stop(1_000);
      }
    });
  });

  describe('flow control and cancellation', () => {
    it(`delivers a ${STREAM_SIZE}-message server stream complete and in order, pausing the producer`, async () => {
      seen.produced = 0;
      let count = 0;
      let producedWhilePaused = -1;
      for await (const response of client.getBars({ symbol: 'MANY' })) {
        assert.equal(response.bars[0].volume, count, `message ${count} out of order`);
        count++;
        if (count === 10) {
          await sleep(300);
          producedWhilePaused = seen.produced;
        }
      }
      assert.equal(count, STREAM_SIZE);
      // A writer that ignored back-pressure would have run through all messages during the pause.
      assert.ok(producedWhilePaused > 10 && producedWhilePaused < STREAM_SIZE / 2, `producer ran ahead to ${producedWhilePaused}`);
    });

    it('breaking out of a server stream cancels the call and aborts the handler signal', async () => {
      seen.endless = undefined;
      records.length = 0;
      clientRecords.length = 0;
      let count = 0;
      for await (const response of client.getBars({ symbol: 'ENDLESS' })) {
        assert.equal(response.bars[0].volume, count);
        if (++count === 3) break;
      }
      const endless = endlessCall();
      assert.ok(endless, 'the handler ran');
      await within(aborted(endless.signal), 5_000, 'the handler signal to abort');
      await within(endless.finished, 5_000, 'the handler generator to finish');
      // The server records the call as cancelled once the handler unwinds.
      await waitUntil(() => records.some((r) => r.method === 'GetBars'), 'the call record');
      const record = records.find((r) => r.method === 'GetBars');
      assert.equal(record?.code, grpc.status.CANCELLED);
      assert.equal(record?.kind, 'server_streaming');
      // The client counts the abandoned call too, as cancelled.
      assert.deepEqual(
        clientRecords.map((r) => [r.method, r.code]),
        [['GetBars', grpc.status.CANCELLED]],
      );
    });

    it("a caller's AbortSignal cancels a unary call; the server counts it CANCELLED, not OK", async () => {
      records.length = 0;
      seen.slowAborted = false;
      const controller = new AbortController();
      const pending = client.listSymbols({ pageToken: 'slow' }, { signal: controller.signal });
      await sleep(50);
      controller.abort();
      const error = await rejection(pending);
      assert.equal(error.code, grpc.status.CANCELLED);
      await waitUntil(() => records.some((r) => r.method === 'ListSymbols'), 'the call record');
      assert.equal(seen.slowAborted, true, "the handler's signal aborted");
      // The handler returned normally after the cancel; what the client got was CANCELLED.
      assert.equal(records.find((r) => r.method === 'ListSymbols')?.code, grpc.status.CANCELLED);
    });
  });

  describe('domain errors become statuses with details', () => {
    it('InvalidArgumentError → INVALID_ARGUMENT naming the field, with a reason', async () => {
      const error = await rejection(client.listSymbols({ pageToken: 'invalid' }));
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(error.details, 'page_size: must be between 1 and 1000');
      const details = statusDetails(error);
      assert.ok(details);
      assert.equal(details.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(details.reason, 'INVALID_ARGUMENT');
      assert.deepEqual(details.fieldViolations, [{ field: 'page_size', description: 'must be between 1 and 1000' }]);
    });

    it('NotFoundError → NOT_FOUND with the resource', async () => {
      const error = await rejection(client.listSymbols({ pageToken: 'missing' }));
      assert.equal(error.code, grpc.status.NOT_FOUND);
      const details = statusDetails(error);
      assert.equal(details?.reason, 'NOT_FOUND');
      assert.deepEqual(details?.resource, { type: 'symbol', name: 'NOPE' });
      assert.deepEqual(details?.fieldViolations, []);
    });

    it('a plain Error → INTERNAL with nothing of its message leaked', async () => {
      records.length = 0;
      const error = await rejection(client.listSymbols({ pageToken: 'crash' }));
      assert.equal(error.code, grpc.status.INTERNAL);
      assert.equal(error.details, 'internal error');
      assert.doesNotMatch(`${error.message} ${error.details} ${JSON.stringify(error.metadata.getMap())}`, /hunter2|postgres/);
      assert.equal(statusDetails(error), undefined);
      // The observer still gets the real error, for the server's own logs.
      const record = records.find((r) => r.method === 'ListSymbols');
      assert.equal(record?.code, grpc.status.INTERNAL);
      assert.match(String((record?.error as Error).message), /hunter2/);
    });

    it('an error thrown mid server stream ends it with the mapped status after the sent messages', async () => {
      const got: number[] = [];
      const error = await rejection(
        (async () => {
          for await (const response of client.getBars({ symbol: 'GONE' })) got.push(response.bars[0].volume);
        })(),
      );
      assert.deepEqual(got, [1]);
      assert.equal(error.code, grpc.status.NOT_FOUND);
      assert.deepEqual(statusDetails(error)?.resource, { type: 'symbol', name: 'GONE' });
    });

    it('an error thrown by a client-stream handler reaches the client with its field', async () => {
      const error = await rejection(client.importCsv([{ chunk: new TextEncoder().encode('a,b\n') }, { chunk: new Uint8Array([0, 1, 2]) }]));
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(statusDetails(error)?.fieldViolations, [{ field: 'chunk', description: 'binary data' }]);
    });
  });

  describe('deadline propagation', () => {
    /** Service A: Predict calls B's ListSymbols with no timeout of its own, and degrades on failure. */
    let a: GrpcServer;
    let aClient: ServiceClient<typeof PredictionService>;
    let toB: ServiceClient<typeof IngestionService>;
    const aSaw: Array<{ context: CallContext; bError?: GrpcJs.ServiceError; failedAt?: number }> = [];

    before(async () => {
      toB = createGrpcClient(IngestionService, `127.0.0.1:${port}`);
      a = createGrpcServer({
        services: [
          implement(PredictionService, {
            async predict(request, context) {
              const entry: (typeof aSaw)[number] = { context };
              aSaw.push(entry);
              try {
                const page = await toB.listSymbols({ pageToken: request.modelName, pageSize: 1 });
                return { prediction: { symbol: page.symbols[0]?.symbol ?? '' } };
              } catch (error) {
                entry.failedAt = Date.now();
                entry.bError = error as GrpcJs.ServiceError;
                return { prediction: { symbol: request.symbol, degraded: true, degradedDetail: grpc.status[entry.bError.code] } };
              }
            },
            predictBatch: () => ({}),
            async *streamPredictions() {},
            async *watchPredictions() {},
          }),
        ],
      });
      const aPort = await a.listen(0, '127.0.0.1');
      aClient = createGrpcClient(PredictionService, `127.0.0.1:${aPort}`);
      await Promise.all([aClient.waitForReady(5_000), toB.waitForReady(5_000)]);
    });

    after(async () => {
      aClient?.close();
      toB?.close();
      await a?.stop(1_000);
    });

    it("B sees a deadline no later than A's caller's", async () => {
      for (let i = 0; i < 5; i++) {
        seen.listDeadlines.length = 0;
        const started = Date.now();
        const pending = aClient.predict({ symbol: 'NABIL' }, { timeoutMs: 2_000 });
        const callerDeadline = Date.now() + 2_000; // the client set its deadline before this line
        const response = await within(pending, 5_000, 'A to answer');
        assert.equal(response.prediction?.symbol, 'NABIL');
        assert.equal(response.prediction?.degraded, false);
        const bDeadline = seen.listDeadlines[0];
        const aDeadline = aSaw.at(-1)?.context.deadline;
        assert.ok(aDeadline !== undefined && bDeadline !== undefined, 'both hops saw a deadline');
        assert.ok(bDeadline <= callerDeadline, `B's deadline is ${bDeadline - callerDeadline} ms past the caller's`);
        assert.ok(bDeadline < aDeadline, "B's deadline is before A's");
        // Inherited, not B's client default of 10 s, and not cut to nothing.
        assert.ok(bDeadline >= started + 2_000 - 250, `B's deadline is ${started + 2_000 - bDeadline} ms short`);
      }
    });

    it("a slow B fails A's call to it with DEADLINE_EXCEEDED before A's deadline, so A can still answer", async () => {
      seen.slowAborted = false;
      records.length = 0;
      const started = Date.now();
      const response = await within(aClient.predict({ symbol: 'NABIL', modelName: 'slow' }, { timeoutMs: 600 }), 5_000, 'A to answer');
      const entry = aSaw.at(-1);
      assert.equal(entry?.bError?.code, grpc.status.DEADLINE_EXCEEDED);
      assert.ok(entry?.failedAt !== undefined && entry.context.deadline !== undefined);
      assert.ok(entry.failedAt < entry.context.deadline, `A→B failed ${entry.failedAt - entry.context.deadline} ms after A's deadline`);
      assert.ok(Date.now() - started < 1_000, 'nothing waited past the deadline');
      // A used the time left to answer with a flagged degraded prediction instead of timing out.
      assert.equal(response.prediction?.degraded, true);
      assert.equal(response.prediction?.degradedDetail, 'DEADLINE_EXCEEDED');
      await waitUntil(() => seen.slowAborted, "B's handler signal to abort at its deadline");
      // B counts the call as the DEADLINE_EXCEEDED its caller got, although its handler returned normally.
      await waitUntil(() => records.some((r) => r.method === 'ListSymbols'), "B's call record");
      assert.equal(records.find((r) => r.method === 'ListSymbols')?.code, grpc.status.DEADLINE_EXCEEDED);
    });
  });

  describe('grpc.health.v1', () => {
    it('is NOT_SERVING until setServing(true), then SERVING, and watchers see the change', async () => {
      const healthServer = createGrpcServer({ services: [ingestion] });
      const healthPort = await healthServer.listen(0, '127.0.0.1');
      const Health = grpc.makeGenericClientConstructor(healthDefinition as GrpcJs.ServiceDefinition, 'Health');
      const health = new Health(`127.0.0.1:${healthPort}`, grpc.credentials.createInsecure()) as GrpcJs.Client & Record<string, Function>;
      const check = (service: string) =>
        new Promise<{ status: string } | GrpcJs.ServiceError>((resolve) =>
          health.Check({ service }, { deadline: Date.now() + 5_000 }, (error: GrpcJs.ServiceError | null, response: { status: string }) =>
            resolve(error ?? response),
          ),
        );
      const watch = health.Watch(
        { service: 'nepse.ingestion.v1.IngestionService' },
        { deadline: Date.now() + 10_000 },
      ) as GrpcJs.ClientReadableStream<{ status: string }>;
      const watched: string[] = [];
      watch.on('data', (message) => watched.push(message.status));
      watch.on('error', () => {});
      try {
        assert.deepEqual(await check(''), { status: 'NOT_SERVING' });
        assert.deepEqual(await check('nepse.ingestion.v1.IngestionService'), { status: 'NOT_SERVING' });
        assert.equal(((await check('nepse.unknown.v1.Nothing')) as GrpcJs.ServiceError).code, grpc.status.NOT_FOUND);
        healthServer.setServing(true);
        assert.deepEqual(await check(''), { status: 'SERVING' });
        assert.deepEqual(await check('nepse.ingestion.v1.IngestionService'), { status: 'SERVING' });
        assert.deepEqual(await check('grpc.health.v1.Health'), { status: 'SERVING' });
        healthServer.setServing(false);
        assert.deepEqual(await check(''), { status: 'NOT_SERVING' });
        await waitUntil(() => watched.length >= 3, 'three watch updates');
        assert.deepEqual(watched, ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
      } finally {
        watch.cancel();
        health.close();
        await healthServer.stop(1_000);
      }
    });
  });

  describe('server reflection (buf curl, no .proto files)', () => {
    // buf curl runs as a child process; the server lives in this process, so the child must be
    // awaited asynchronously (a synchronous spawn would block the server it talks to).
    const buf = (args: string[]) =>
      run(join(ROOT, 'node_modules/.bin/buf'), ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], {
        cwd: tmpdir(), // no buf.yaml or .proto files around: the schema must come from reflection
        timeout: 15_000,
        killSignal: 'SIGKILL',
      });

    it('lists exactly the served service, health and both reflection services', async () => {
      const { stdout } = await buf(['--list-services', `http://127.0.0.1:${port}`]);
      assert.deepEqual(stdout.trim().split('\n').sort(), [
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'nepse.ingestion.v1.IngestionService',
      ]);
    });

    it('calls a method with JSON in and out', async () => {
      const { stdout } = await buf([`http://127.0.0.1:${port}/nepse.ingestion.v1.IngestionService/ListSymbols`, '-d', '{"pageSize": 3}']);
      assert.deepEqual(JSON.parse(stdout), {
        symbols: [{ symbol: 'NABIL', barCount: '3', firstDate: { year: 2024, month: 1, day: 31 } }],
        nextPageToken: 'after-3',
      });
    });

    it('works over reflection v1alpha too', async () => {
      const { stdout } = await buf([
        '--reflect-protocol',
        'grpc-v1alpha',
        `http://127.0.0.1:${port}/nepse.ingestion.v1.IngestionService/ListSymbols`,
        '-d',
        '{}',
      ]);
      assert.equal(JSON.parse(stdout).nextPageToken, 'after-0');
    });
  });
});
