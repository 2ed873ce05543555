/**
 * What a fault test of the cluster asserts, read the way a user can read it: bars through
 * ingestion's ListSymbols and GetBars, scored predictions through monitoring's
 * ListScoredPredictions, models through the registry's GetModel, and announcements from the
 * events stream itself (JetStream stream info and an ordered read of it), never from a service's
 * tables.
 */
import { fromBinary, type Message } from '@bufbuild/protobuf';
import { DeliverPolicy } from 'nats';
import { ActivationResult } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EVENTS_STREAM, type EventType } from '../../lib/events/index.js';
import { dayOf } from '../../lib/market/index.js';
import type { TestCluster } from './cluster.js';

/** Every event on the events stream, decoded, by event name (`bars.ingested`, …), in stream order. */
export async function readStream(cluster: TestCluster, timeoutMs = 60_000): Promise<Map<string, Message[]>> {
  const byName = new Map(Object.values(MeshEvents).map((e) => [e.name, e as unknown as EventType<Message>]));
  const out = new Map<string, Message[]>();
  const last = (await cluster.bus.jsm.streams.info(EVENTS_STREAM)).state.last_seq;
  if (last === 0) return out;
  const consumer = await cluster.bus.js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 500 });
  const timer = setTimeout(() => messages.stop(), timeoutMs);
  let seq = 0;
  try {
    for await (const m of messages) {
      seq = m.seq;
      const name = m.subject.split('.').slice(2, -1).join('.');
      const event = byName.get(name);
      if (event) out.set(name, [...(out.get(name) ?? []), fromBinary(event.schema, m.data)]);
      if (m.seq >= last) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  if (seq < last) throw new Error(`read the events stream to ${seq} of ${last} within ${timeoutMs} ms`);
  return out;
}

/** A problem found by a check; the checks answer lists of these so one failure shows them all. */
export type Findings = string[];

/**
 * Bars: every symbol holds exactly `days` (its dates, oldest first) once each through GetBars and
 * ListSymbols, and the stream announced each (symbol, day) exactly once.
 */
export async function checkBars(cluster: TestCluster, expected: ReadonlyMap<string, readonly string[]>, events: Map<string, Message[]>): Promise<Findings> {
  const findings: Findings = [];
  const ingestion = cluster.client('ingestion');
  const counts = new Map<string, bigint>();
  for (let token = '', page = 0; page < 100; page++) {
    const response = await ingestion.listSymbols({ pageSize: 500, pageToken: token });
    for (const info of response.symbols) counts.set(info.symbol, info.barCount);
    token = response.nextPageToken;
    if (!token) break;
  }
  const announced = new Map<string, number>();
  for (const event of (events.get('bars.ingested') ?? []) as Array<Message & { symbol: string; bars: Array<{ date?: Parameters<typeof dayOf>[0] }> }>) {
    for (const bar of event.bars) {
      const key = `${event.symbol} ${dayOf(bar.date)}`;
      announced.set(key, (announced.get(key) ?? 0) + 1);
    }
  }
  for (const [symbol, days] of expected) {
    if (Number(counts.get(symbol) ?? 0n) !== days.length) findings.push(`${symbol}: ListSymbols counts ${counts.get(symbol) ?? 0n} bars, expected ${days.length}`);
    const stored: string[] = [];
    for await (const response of ingestion.getBars({ symbol }, { timeoutMs: 30_000 })) for (const bar of response.bars) stored.push(dayOf(bar.date));
    const unique = new Set(stored);
    if (unique.size !== stored.length) findings.push(`${symbol}: GetBars gives ${stored.length - unique.size} dates twice`);
    const lost = days.filter((d) => !unique.has(d));
    if (lost.length > 0) findings.push(`${symbol}: ${lost.length} bars lost (first ${lost[0]})`);
    const unannounced = days.filter((d) => !announced.has(`${symbol} ${d}`));
    if (unannounced.length > 0) findings.push(`${symbol}: ${unannounced.length} bars never announced (first ${unannounced[0]})`);
    const twice = days.filter((d) => (announced.get(`${symbol} ${d}`) ?? 0) > 1);
    if (twice.length > 0) findings.push(`${symbol}: ${twice.length} bars announced more than once (first ${twice[0]})`);
  }
  return findings;
}

/**
 * Predictions: every (model, version, symbol, feature day) that PredictionsMade announced is listed
 * by monitoring exactly once, and scored when ingestion holds a later bar of its symbol.
 */
export async function checkScoredOnce(cluster: TestCluster, latestDay: ReadonlyMap<string, string>, events: Map<string, Message[]>): Promise<Findings> {
  type Made = { modelName: string; modelVersion: number; symbol: string; featureDate?: Parameters<typeof dayOf>[0] };
  const made = new Set<string>();
  for (const event of (events.get('predictions.made') ?? []) as Array<Message & { predictions: Made[] }>) {
    for (const p of event.predictions) made.add(`${p.modelName} v${p.modelVersion} ${p.symbol} ${dayOf(p.featureDate)}`);
  }
  const findings: Findings = [];
  const monitoring = cluster.client('monitoring');
  const symbols = new Set([...made].map((key) => key.split(' ')[2]!));
  const listed = new Map<string, { scored: boolean; n: number }>();
  for (const symbol of symbols) {
    for (let token = '', page = 0; page < 100; page++) {
      const response = await monitoring.listScoredPredictions({ symbol, pageSize: 500, pageToken: token });
      for (const p of response.predictions) {
        const key = `${p.modelName} v${p.modelVersion} ${p.symbol} ${dayOf(p.featureDate)}`;
        const seen = listed.get(key);
        listed.set(key, { scored: p.scored, n: (seen?.n ?? 0) + 1 });
      }
      token = response.nextPageToken;
      if (!token) break;
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
      findings.push(`promotion ${promoted.promotionId} of ${promoted.name} v${promoted.version}: ${completed ? 'both completed and rolled back' : `neither completed (ok from ${[...okBy].join(', ') || 'none'}) nor rolled back`}`);
    }
  }
  return findings;
}
