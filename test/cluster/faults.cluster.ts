/**
 * The mesh on four hosts of this machine (testing/cluster: network namespaces, a three-node NATS
 * JetStream cluster with 3 replicas, a private PostgreSQL, prediction on two hosts), through
 * faults one after another. After each, the ledger must hold: no bar lost, none stored or
 * announced twice, every prediction announced is listed by monitoring once and scored once its
 * next bar is in, and every promotion either completed on both prediction instances or was rolled
 * back. Run with `make cluster-test` (root, iproute2, nftables, nats-server, PostgreSQL); not part
 * of `make test`, as it takes minutes.
 */
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { waitFor } from '../../lib/events/testing.js';
import { dayOf, nextTradingDay, toProtoDate } from '../../lib/market/index.js';
import { grpc } from '../../lib/grpc/index.js';
import { TestCluster } from '../../testing/cluster/cluster.js';
import { cutLink, joinLink } from '../../testing/cluster/hosts.js';
import { checkBars, checkSagas, checkScoredOnce, readStream } from '../../testing/cluster/ledger.js';
import { DEFAULT_FEATURE_SET } from '../../testing/market.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';

const SYMBOLS = Array.from(
  { length: 40 },
  (_, i) => `CL${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`,
);
/** Sessions of the large import: past ohlcv_v1's warm-up. */
const HISTORY = 120;
const MODEL = 'bed-linear';
const INSTANCES = ['bed-n2', 'bed-n3'];
const WIDTH = DEFAULT_FEATURE_SET.features.length;

const DAYS = ['2024-01-01'];
while (DAYS.length < HISTORY + 20) DAYS.push(nextTradingDay(DAYS.at(-1)!));

/** Bar of symbol number `s` on session `k`: a smooth walk, distinct per symbol. */
function bar(s: number, k: number) {
  const close = 100 + 7 * s + 10 * Math.sin(k / 6 + s);
  const open = 100 + 7 * s + 10 * Math.sin((k - 1) / 6 + s);
  return {
    date: DAYS[k]!,
    open,
    high: Math.max(open, close) * 1.01,
    low: Math.min(open, close) * 0.99,
    close,
    volume: 10_000 + 37 * ((k * 13 + s) % 29),
  };
}

const csvOf = (sessions: readonly number[]) =>
  new TextEncoder().encode(
    [
      'Symbol,Date,Open,High,Low,Close,Volume',
      ...sessions.flatMap((k) =>
        SYMBOLS.map((symbol, s) => {
          const b = bar(s, k);
          return `${symbol},${b.date},${b.open.toFixed(2)},${b.high.toFixed(2)},${b.low.toFixed(2)},${b.close.toFixed(2)},${b.volume}`;
        }),
      ),
    ].join('\n') + '\n',
  );

describe('the mesh on four hosts, through faults', { timeout: 540_000 }, () => {
  let cluster: TestCluster;
  /** Sessions stored so far. */
  let sessions = 0;
  let promoted = 0;

  const expectedBars = () => new Map(SYMBOLS.map((symbol) => [symbol, DAYS.slice(0, sessions)]));
  const latest = () => new Map(SYMBOLS.map((symbol) => [symbol, DAYS[sessions - 1]!]));

  /** Imports `count` more sessions of every symbol as one CSV, counted once answered OK; answers the import's response. */
  async function importSessions(count: number) {
    const from = sessions;
    step(`importing ${count} sessions from ${DAYS[from]}`);
    const response = await cluster
      .client('ingestion')
      .importCsv([{ options: { source: `bed-${from}` } }, { chunk: csvOf(Array.from({ length: count }, (_, i) => from + i)) }], {
        timeoutMs: 120_000,
      });
    sessions += count;
    return response;
  }

  /** Says on stderr how far a fault has come, seconds since the bed was up: where a slow run spends its time. */
  let upAt = Date.now();
  const step = (what: string) => process.stderr.write(`cluster-test +${((Date.now() - upAt) / 1000).toFixed(1)} s: ${what}\n`);

  /**
   * Every check of the file comment, until they all hold (the outbox may still be re-sending what a
   * fault held up) or 90 s have passed; fails listing every finding, with the services' recent output.
   */
  async function assertLedger(): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (let round = 1; ; round++) {
      step('waiting for every consumer to drain');
      await cluster.processAll({ timeoutMs: 60_000 });
      step('reading the events stream');
      const events = await readStream(cluster);
      step(`checking bars, scored predictions and sagas (round ${round})`);
      const findings = [
        ...(await checkBars(cluster, expectedBars(), events)),
        ...(await checkScoredOnce(cluster, latest(), events)),
        ...checkSagas(events, INSTANCES),
      ];
      if (findings.length === 0) return;
      if (Date.now() > deadline) assert.deepEqual(findings.slice(0, 20), [], `${findings.length} findings\n${cluster.tails(8)}`);
      step(`${findings.length} findings (first: ${findings[0]}); checking again`);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    }
  }

  /** Registers a model (weights scaled by `scale`) and moves it to Production; answers its version. */
  async function promote(scale: number): Promise<number> {
    const weights = Array.from({ length: WIDTH }, (_, i) => scale * 0.001 * (i + 1));
    const registry = cluster.client('registry');
    const { modelVersion } = await registry.registerModel(
      registerRequests(registrationFor(MODEL, WIDTH), linearModel({ width: WIDTH, weights })),
      { timeoutMs: 60_000 },
    );
    await registry.transitionStage(
      { name: MODEL, version: modelVersion!.version, targetStage: Stage.PRODUCTION, actor: 'cluster-test', reason: 'bed' },
      { timeoutMs: 30_000 },
    );
    return modelVersion!.version;
  }

  /** Waits until both prediction instances answer with `version`. */
  const servedBy = (version: number) =>
    waitFor(
      async () => {
        for (const host of ['n2', 'n3']) {
          const { prediction } = await cluster
            .client('prediction', host)
            .predict({ symbol: SYMBOLS[0]!, modelName: MODEL }, { timeoutMs: 5_000 });
          if (prediction?.modelVersion !== version) return false;
        }
        return true;
      },
      `both prediction instances to serve v${version}`,
      { timeoutMs: 90_000, intervalMs: 500 },
    );

  /** One Predict of every symbol on `host` (of day `asOf`, or the latest); answers what came back and how long each took, in ms. */
  async function predictAll(host: string, deadlineMs: number, asOf?: string) {
    return Promise.all(
      SYMBOLS.map(async (symbol) => {
        const started = Date.now();
        try {
          const { prediction } = await cluster
            .client('prediction', host)
            .predict({ symbol, modelName: MODEL, asOf: asOf === undefined ? undefined : toProtoDate(asOf) }, { timeoutMs: deadlineMs });
          return { symbol, ms: Date.now() - started, prediction };
        } catch (error) {
          return { symbol, ms: Date.now() - started, error: error as Error & { code?: number } };
        }
      }),
    );
  }

  before(async () => {
    cluster = await TestCluster.create({ PREDICTION_BREAKER_HALF_OPEN_MS: '1000', FEATURE_CONSUMER_CONCURRENCY: '4' });
    upAt = Date.now();
    step('bed up');
  });

  after(async () => {
    step('tearing down');
    // The services' logs outlive the bed (it removes its folder), for reading after a failed run.
    for (const service of cluster?.services ?? [])
      await cp(service.logFile, join(tmpdir(), 'nepse-cluster-logs', `${service.name}-${service.host.name}.log`)).catch(() => undefined);
    await cluster?.close();
    // What would keep this process from exiting once the bed is gone (stdio aside): said, so a hang has a name.
    const left = process.getActiveResourcesInfo().filter((r) => !/TTYWrap|PipeWrap|FSReqCallback/.test(r));
    step(`torn down; still active: ${left.join(', ') || 'nothing'}`);
  });

  it('stores and announces every bar once through a NATS node killed (-9) during a large import', async () => {
    const leader = (await cluster.bus.jsm.streams.info('NEPSE_EVENTS')).cluster?.leader;
    const victim = cluster.nats.nodes.find((n) => n.host.name === leader) ?? cluster.nats.nodes[1]!;
    const importing = importSessions(HISTORY);
    // The import's store and outbox work runs for seconds; the stream's leader dies during it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    step(`killing nats-server on ${victim.host.name}`);
    await victim.kill();
    const response = await importing;
    step(`import answered (${response.barsNew} new); restarting the node`);
    assert.equal(Number(response.barsNew), SYMBOLS.length * HISTORY);
    await victim.start();
    step('node back');
    await assertLedger();
  });

  it('completes the first promotion on both prediction hosts and scores predictions once', async () => {
    promoted = await promote(1);
    await servedBy(promoted);
    const answers = await predictAll('n2', 5_000);
    assert.deepEqual(
      answers.filter((a) => a.error).map((a) => `${a.symbol}: ${a.error!.message}`),
      [],
    );
    await importSessions(1);
    await assertLedger();
  });

  // Prediction keeps the latest vector of every symbol, fed by FeaturesComputed over the NATS
  // cluster, which still reaches it through the other hosts: the latest is served fresh through the
  // cut. A day its cache does not hold needs the feature service: that answer must come degraded or
  // UNAVAILABLE before the deadline, never hang, and come whole again once the link is back. The
  // cut also cuts the feature service's NATS connection when it is to n2's node: its pings then
  // move it to another node, after which its vectors reach n2 again.
  it('serves the latest from its cache and answers what needs the feature service degraded or UNAVAILABLE within the deadline while the prediction host is cut off from the feature host, and recovers', async () => {
    const [, n2, , n4] = cluster.hosts;
    const deadlineMs = 3_000;
    // Only each symbol's latest vector is cached: an earlier day is asked of the feature service.
    const pastDay = DAYS[sessions - 5]!;
    const whole = (answers: Awaited<ReturnType<typeof predictAll>>, day: string) =>
      answers.every((a) => a.prediction && !a.prediction.degraded && dayOf(a.prediction.featureDate) === day);
    /** `38 fresh, 2 degraded, slowest 41 ms`: what a set of answers was, for the run's output. */
    const tally = (answers: Awaited<ReturnType<typeof predictAll>>) => {
      const counts = new Map<string, number>();
      for (const a of answers) {
        const kind = a.error
          ? (grpc.status[a.error.code ?? grpc.status.UNKNOWN] ?? String(a.error.code))
          : a.prediction?.degraded
            ? 'degraded'
            : 'fresh';
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
      return `${[...counts].map(([kind, n]) => `${n} ${kind}`).join(', ')}, slowest ${Math.max(0, ...answers.map((a) => a.ms))} ms`;
    };
    const late = (answers: Awaited<ReturnType<typeof predictAll>>) =>
      answers.filter((a) => a.ms > deadlineMs).map((a) => `${a.symbol} ${a.ms} ms`);
    assert.ok(whole(await predictAll('n2', 5_000, pastDay), pastDay), `before the cut, Predict as of ${pastDay} answers undegraded`);

    step('cutting n2 off from n4');
    await cutLink(n2!, n4!);
    const settling: Awaited<ReturnType<typeof predictAll>> = [];
    let latest: Awaited<ReturnType<typeof predictAll>> = [];
    let past: Awaited<ReturnType<typeof predictAll>> = [];
    let newest = '';
    try {
      // A new session during the cut: its vectors reach n2 only as FeaturesComputed through NATS.
      await importSessions(1);
      newest = DAYS[sessions - 1]!;
      // Between the session's BarsIngested and its FeaturesComputed reaching n2 an answer may be the
      // previous vector, flagged degraded; it must still come within the deadline.
      let round: Awaited<ReturnType<typeof predictAll>> = [];
      await waitFor(
        async () => {
          round = await predictAll('n2', deadlineMs);
          settling.push(...round);
          return whole(round, newest);
        },
        `prediction on n2 to serve ${newest} from its cache during the cut`,
        { timeoutMs: 90_000, intervalMs: 500 },
      ).catch((error: Error) => {
        const dates = [...new Set(round.map((a) => (a.prediction ? dayOf(a.prediction.featureDate) : '-')))].join(', ');
        throw new Error(`${error.message}; the last round: ${tally(round)}, feature dates ${dates}\n${cluster.tails(8)}`);
      });
      step('n2 serves the newest session from its cache; predicting the latest and a past day during the cut');
      for (let round = 0; round < 3; round++) {
        latest = [...latest, ...(await predictAll('n2', deadlineMs))];
        past = [...past, ...(await predictAll('n2', deadlineMs, pastDay))];
      }
    } finally {
      await joinLink(n2!);
      step('link back');
    }
    step(`during the cut: latest ${tally([...settling, ...latest])}; as of ${pastDay} ${tally(past)}`);
    assert.deepEqual(
      settling.filter((a) => a.error).map((a) => `${a.symbol}: ${a.error!.code} ${a.error!.message}`),
      [],
      'every Predict of the latest answered while the new session reached the cache',
    );
    assert.deepEqual(late(settling), [], 'inside the deadline while the new session reached the cache');
    assert.deepEqual(
      latest.filter((a) => !a.prediction || a.prediction.degraded || dayOf(a.prediction.featureDate) !== newest).map((a) => a.symbol),
      [],
      `Predict of the latest answered fresh from ${newest} during the cut`,
    );
    assert.deepEqual(late(latest), [], 'the latest inside the deadline during the cut');
    assert.deepEqual(
      past
        .filter((a) => !(a.prediction?.degraded || a.error?.code === grpc.status.UNAVAILABLE))
        .map((a) => `${a.symbol}: ${a.error ? `${a.error.code} ${a.error.message}` : 'answered undegraded'}`),
      [],
      `Predict as of ${pastDay} answered degraded or UNAVAILABLE while the feature host was unreachable`,
    );
    assert.deepEqual(late(past), [], `Predict as of ${pastDay} inside the deadline during the cut`);

    // The breaker lets a trial call through once its half-open delay has passed: answers come whole again.
    await waitFor(
      async () => whole(await predictAll('n2', 5_000, pastDay), pastDay),
      `prediction on n2 to answer as of ${pastDay} undegraded once the link is back`,
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    assert.ok(whole(await predictAll('n2', 5_000), newest), `the latest still answered fresh from ${newest}`);
    await importSessions(1);
    await assertLedger();
  });

  it('recomputes every feature after the feature service is killed (-9) mid-recompute and restarted', async () => {
    const feature = cluster.service('feature');
    await importSessions(3);
    await feature.kill();
    await feature.start();
    await assertLedger();
    const newest = DAYS[sessions - 1]!;
    const vectors = await Promise.all(
      SYMBOLS.map(
        async (symbol) => [symbol, (await cluster.client('feature').getFeatures({ symbol }, { timeoutMs: 10_000 })).vector] as const,
      ),
    );
    for (const [symbol, vector] of vectors) assert.equal(dayOf(vector?.date), newest, `${symbol}'s latest vector`);
  });

  it('finishes a promotion the registry was killed (-9) in the middle of, after it restarts', async () => {
    const registry = cluster.service('registry');
    const version = await promote(-1);
    await registry.kill();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await registry.start();
    const { modelVersion } = await waitFor(
      async () => {
        const answer = await cluster
          .client('registry')
          .getModel({ name: MODEL, selector: { case: 'version', value: version } }, { timeoutMs: 5_000 });
        return answer.modelVersion?.stage === Stage.PRODUCTION || answer.modelVersion?.stage === Stage.ARCHIVED ? answer : undefined;
      },
      `v${version} to settle`,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    if (modelVersion!.stage === Stage.PRODUCTION) await servedBy(version);
    else await servedBy(promoted);
    await predictAll('n3', 5_000);
    await importSessions(1);
    await assertLedger();
  });

  // On a full disk ingestion writes the outbox rows before the bars, so whichever write fails
  // nothing is visible, the relay never announces bars that were not stored, and the answer is
  // RESOURCE_EXHAUSTED naming the store.
  it("answers an import with an error and stores nothing of it while ingestion's disk is full, and takes it once there is room", async () => {
    const ingestion = cluster.service('ingestion');
    // Its store on a disk of its own (a tmpfs) that can be filled without touching the machine's.
    step("moving ingestion's store onto a 256 MiB tmpfs");
    await ingestion.stop();
    const dir = join(cluster.dataDir, ingestion.host.name, 'ingestion');
    await cluster.moveToTmpfs(dir, 256);
    await ingestion.start();
    step('filling it');
    const filler = await cluster.fillTmpfs(dir);
    // A few seconds on the full disk first: any room the restarted store gives back by itself is
    // taken again, so the import meets a disk that has stayed full, as the writer sees it.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const freeBefore = cluster.freeBytes(dir);
    const failed = await importSessions(1).then(
      (response) => ({ response, error: undefined }),
      (error: Error & { code?: number }) => ({ response: undefined, error }),
    );
    // importSessions counts a session only once it is answered OK: a refused one leaves the count,
    // and the retry below imports the same session.
    if (!failed.error) sessions -= 1;
    const freeAfter = cluster.freeBytes(dir);
    const takenBack = await filler.release();
    const disk = `${freeBefore} bytes free before the import, ${freeAfter} after; the filler took back ${takenBack} bytes the store freed`;
    step(`import answered ${failed.error ? `${failed.error.code} ${failed.error.message.slice(0, 160)}` : 'ok'} (${disk}); disk freed`);
    assert.ok(
      failed.error,
      `the import succeeded on a full disk (${disk}): ${JSON.stringify(failed.response, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    assert.ok(
      failed.error.code === grpc.status.UNAVAILABLE || failed.error.code === grpc.status.RESOURCE_EXHAUSTED,
      `a clear error: ${failed.error.code} ${failed.error.message}`,
    );
    if (!ingestion.running) {
      step('ingestion exited on the full disk; starting it again');
      await ingestion.kill();
      await ingestion.start();
    }
    // Nothing of the failed import is stored or announced: the ledger still holds the earlier sessions exactly.
    await assertLedger();
    const response = await importSessions(1);
    assert.equal(Number(response.barsNew), SYMBOLS.length);
    await assertLedger();
  });
});
