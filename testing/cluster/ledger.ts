/**
 * What a fault test of the cluster asserts, read the way a user can read it: bars through
 * ingestion's ListSymbols and GetBars, scored predictions through monitoring's
 * ListScoredPredictions, models through the registry's GetModel, and announcements from the
 * events stream itself (JetStream stream info and each stored message by sequence), never from a
 * service's tables.
 */
import { fromBinary, type Message } from '@bufbuild/protobuf';
import { ActivationResult } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EVENTS_STREAM, type EventType } from '../../lib/events/index.js';
import { dayOf } from '../../lib/market/index.js';
import type { TestCluster } from './cluster.js';

/** Deadline of one check RPC, in ms: a check that needs longer is a finding, not a wait. */
const CALL_MS = 10_000;
/** Attempts of one check RPC: a call that meets a service mid-failover gets two more tries. */
const ATTEMPTS = 3;
/** Check RPCs in flight at once: enough to overlap round trips, few enough for a loaded machine. */
const PARALLEL = 16;

/** `call` up to {@link ATTEMPTS} times, 500 ms apart; throws the last error naming `what`. */
async function attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < ATTEMPTS; i++) {
    try {
      return await call();
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw new Error(`${what}: ${(last as Error).message} (${ATTEMPTS} attempts)`, { cause: last });
}

/** `work` over `items`, at most {@link PARALLEL} at once; answers results in `items`' order. */
async function inParallel<I, T>(items: readonly I[], work: (item: I) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, lane));
  return out;
}

/** Every event on the events stream, decoded, by event name (`bars.ingested`, …), in stream order. */
export async function readStream(cluster: TestCluster, timeoutMs = 30_000): Promise<Map<string, Message[]>> {
  // A read that meets the stream re-electing its leader stalls; a fresh one after it succeeds.
  return attempt('reading the events stream', () => readStreamOnce(cluster, timeoutMs));
}

async function readStreamOnce(cluster: TestCluster, timeoutMs: number): Promise<Map<string, Message[]>> {
  const byName = new Map(Object.values(MeshEvents).map((e) => [e.name, e as unknown as EventType<Message>]));
  const out = new Map<string, Message[]>();
  const { first_seq: first, last_seq: last } = (await cluster.bus.jsm.streams.info(EVENTS_STREAM)).state;
  if (last === 0) return out;
  // One bounded request per message, several in flight, rather than an ordered consumer: creating
  // that consumer is retried without end by the client while the cluster re-elects, and a read
  // that waits on it hangs the run.
  const deadline = Date.now() + timeoutMs;
  const seqs = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const stored = await inParallel(seqs, async (seq) => {
    if (Date.now() > deadline) throw new Error(`read the events stream to below ${seq} of ${last} within ${timeoutMs} ms`);
    try {
      return await cluster.bus.jsm.streams.getMessage(EVENTS_STREAM, { seq });
    } catch (error) {
      if (/no message found/i.test((error as Error).message)) return undefined; // a gap the stream's limits made
      throw error;
    }
  });
  for (const m of stored) {
    if (!m) continue;
    const name = m.subject.split('.').slice(2, -1).join('.');
    const event = byName.get(name);
    if (event) out.set(name, [...(out.get(name) ?? []), fromBinary(event.schema, m.data)]);
  }
  return out;
}

/** A problem found by a check; the checks answer lists of these so one failure shows them all. */
export type Findings = string[];

/**
 * Bars: every symbol holds exactly `days` (its dates, oldest first) once each through GetBars and
 * ListSymbols, and the stream announced each (symbol, day) exactly once.
 */
export async function checkBars(
  cluster: TestCluster,
  expected: ReadonlyMap<string, readonly string[]>,
  events: Map<string, Message[]>,
): Promise<Findings> {
  const findings: Findings = [];
  const ingestion = cluster.client('ingestion');
  const counts = new Map<string, bigint>();
  for (let token = '', page = 0; page < 100; page++) {
    const response = await attempt('ListSymbols', () => ingestion.listSymbols({ pageSize: 500, pageToken: token }, { timeoutMs: CALL_MS }));
    for (const info of response.symbols) counts.set(info.symbol, info.barCount);
    token = response.nextPageToken;
    if (!token) break;
  }
  const announced = new Map<string, number>();
  for (const event of (events.get('bars.ingested') ?? []) as Array<
    Message & { symbol: string; bars: Array<{ date?: Parameters<typeof dayOf>[0] }> }
  >) {
    for (const bar of event.bars) {
      const key = `${event.symbol} ${dayOf(bar.date)}`;
      announced.set(key, (announced.get(key) ?? 0) + 1);
    }
  }
  const storedBy = await inParallel([...expected.keys()], (symbol) =>
    attempt(`GetBars ${symbol}`, async () => {
      const stored: string[] = [];
      for await (const response of ingestion.getBars({ symbol }, { timeoutMs: CALL_MS }))
        for (const bar of response.bars) stored.push(dayOf(bar.date));
      return stored;
    }),
  );
  for (const [i, [symbol, days]] of [...expected].entries()) {
    if (Number(counts.get(symbol) ?? 0n) !== days.length)
      findings.push(`${symbol}: ListSymbols counts ${counts.get(symbol) ?? 0n} bars, expected ${days.length}`);
    const stored = storedBy[i]!;
    const unique = new Set(stored);
    if (unique.size !== stored.length) findings.push(`${symbol}: GetBars gives ${stored.length - unique.size} dates twice`);
    const lost = days.filter((d) => !unique.has(d));
    if (lost.length > 0) findings.push(`${symbol}: ${lost.length} bars lost (first ${lost[0]})`);
    const unannounced = days.filter((d) => !announced.has(`${symbol} ${d}`));
    if (unannounced.length > 0) findings.push(`${symbol}: ${unannounced.length} bars never announced (first ${unannounced[0]})`);
    const twice = days.filter((d) => (announced.get(`${symbol} ${d}`) ?? 0) > 1);
    if (twice.length > 0) findings.push(`${symbol}: ${twice.length} bars announced more than once (first ${twice[0]})`);
  }
  const expectedKeys = new Set([...expected].flatMap(([symbol, days]) => days.map((d) => `${symbol} ${d}`)));
  const extra = [...announced.keys()].filter((key) => !expectedKeys.has(key));
  if (extra.length > 0) findings.push(`${extra.length} bars announced that should not exist (first ${extra[0]})`);
  return findings;
}

/**
 * Predictions: every (model, version, symbol, feature day) that PredictionsMade announced is listed
 * by monitoring exactly once, and scored when ingestion holds a later bar of its symbol.
 */
export async function checkScoredOnce(
  cluster: TestCluster,
  latestDay: ReadonlyMap<string, string>,
  events: Map<string, Message[]>,
): Promise<Findings> {
  type Made = { modelName: string; modelVersion: number; symbol: string; featureDate?: Parameters<typeof dayOf>[0] };
  const made = new Set<string>();
  for (const event of (events.get('predictions.made') ?? []) as Array<Message & { predictions: Made[] }>) {
    for (const p of event.predictions) made.add(`${p.modelName} v${p.modelVersion} ${p.symbol} ${dayOf(p.featureDate)}`);
  }
  const findings: Findings = [];
  const monitoring = cluster.client('monitoring');
  const symbols = new Set([...made].map((key) => key.split(' ')[2]!));
  const listed = new Map<string, { scored: boolean; n: number }>();
  const pagesBy = await inParallel([...symbols], async (symbol) => {
    const pages = [];
    for (let token = '', page = 0; page < 100; page++) {
      const response = await attempt(`ListScoredPredictions ${symbol}`, () =>
        monitoring.listScoredPredictions({ symbol, pageSize: 500, pageToken: token }, { timeoutMs: CALL_MS }),
      );
      pages.push(response);
      token = response.nextPageToken;
      if (!token) break;
    }
    return pages;
  });
  for (const pages of pagesBy) {
    for (const response of pages) {
      for (const p of response.predictions) {
        const key = `${p.modelName} v${p.modelVersion} ${p.symbol} ${dayOf(p.featureDate)}`;
        const seen = listed.get(key);
        listed.set(key, { scored: p.scored, n: (seen?.n ?? 0) + 1 });
      }
    }
  }
  for (const key of made) {
    const entry = listed.get(key);
    const [, , symbol, day] = key.split(' ');
    if (!entry) findings.push(`${key}: announced but not in monitoring`);
    else if (entry.n > 1) findings.push(`${key}: listed ${entry.n} times`);
    else if (!entry.scored && day! < (latestDay.get(symbol!) ?? '')) findings.push(`${key}: its next bar is stored but it is not scored`);
  }
  return findings;
}

/**
 * The saga: every promotion announced ended one way, completed (every prediction instance
 * reported an ok activation) or compensated (rolled back), never both and never neither.
 */
export function checkSagas(events: Map<string, Message[]>, instances: readonly string[]): Findings {
  type Promoted = { promotionId: string; name: string; version: number };
  type Activation = { promotionId: string; instanceId: string; result: ActivationResult };
  const findings: Findings = [];
  const activations = (events.get('models.activation') ?? []) as unknown as Activation[];
  const rolledBack = new Set(((events.get('models.rolled_back') ?? []) as unknown as Promoted[]).map((r) => r.promotionId));
  for (const promoted of (events.get('models.promoted') ?? []) as unknown as Promoted[]) {
    const mine = activations.filter((a) => a.promotionId === promoted.promotionId);
    const okBy = new Set(mine.filter((a) => a.result === ActivationResult.OK).map((a) => a.instanceId));
    const completed = instances.every((id) => okBy.has(id));
    const compensated = rolledBack.has(promoted.promotionId);
    if (completed === compensated) {
      findings.push(
        `promotion ${promoted.promotionId} of ${promoted.name} v${promoted.version}: ${completed ? 'both completed and rolled back' : `neither completed (ok from ${[...okBy].join(', ') || 'none'}) nor rolled back`}`,
      );
    }
  }
  return findings;
}
