/**
 * The durable consumer's server-side configuration, reconciled like the streams: created when
 * missing, updated when the code asks for different limits, left alone otherwise.
 */
import {
  AckPolicy,
  DeliverPolicy,
  ReplayPolicy,
  nanos,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import { EventConfigError } from './errors.js';
import { describeError, isNotFound } from './nats-errors.js';

/** What the code wants the durable consumer to be. */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  description: string;
  /** Subjects to deliver; several need nats-server ≥ 2.10 or fall back to client filtering. */
  filters: string[];
  maxDeliver: number;
  /** In milliseconds. */
  ackWaitMs: number;
  maxAckPending?: number;
  /** A durable created now starts at the last stored message of each subject instead of the first message. */
  lastPerSubject?: boolean;
}

/** How filtering ended up being done. */
export interface EnsuredConsumer {
  info: ConsumerInfo;
  /** The filter subjects the server applies. */
  serverFilters: string[];
  /** Set when the client must drop subjects the server could not filter out. */
  clientFilter?: Set<string>;
}

/**
 * Creates or updates the durable pull consumer. Explicit ack, deliver-all (a new durable starts at
 * the beginning of the stream, so nothing published before its first start is missed).
 *
 * @throws EventConfigError when the server refuses the change (say, an edited filter on a server
 *   that cannot update filters: delete the durable to recreate it).
 */
export async function ensureConsumer(nc: NatsConnection, jsm: JetStreamManager, spec: ConsumerSpec): Promise<EnsuredConsumer> {
  let serverFilters = spec.filters;
  let clientFilter: Set<string> | undefined;
  if (serverFilters.length > 1 && !serverAtLeast(nc, 2, 10)) {
    // Old servers have one filter subject per consumer: take every key of the event and drop
    // the unwanted ones in the client. Costs bandwidth, never correctness.
    clientFilter = new Set(serverFilters);
    serverFilters = [wildcardOf(serverFilters[0] as string)];
  }
  const wanted: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    description: spec.description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.lastPerSubject ? DeliverPolicy.LastPerSubject : DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    // Exactly one of the two is sent: a stale one left by an earlier config makes the server refuse.
    filter_subject: serverFilters.length === 1 ? serverFilters[0] : undefined,
    filter_subjects: serverFilters.length > 1 ? serverFilters : undefined,
    ...(spec.maxAckPending !== undefined ? { max_ack_pending: spec.maxAckPending } : {}),
  };

  let current: ConsumerInfo | undefined;
  try {
    current = await jsm.consumers.info(spec.stream, spec.durable);
  } catch (err) {
    if (isNotFound(err, 'stream')) {
      throw new EventConfigError(`stream ${spec.stream} does not exist: call ensureStreams() first`, { cause: err });
    }
    if (!isNotFound(err, 'consumer')) throw err;
  }
  try {
    if (!current) {
      const info = await jsm.consumers.add(spec.stream, wanted);
      return { info, serverFilters, clientFilter };
    }
    if (matches(current.config, wanted)) return { info: current, serverFilters, clientFilter };
    const { durable_name: _d, deliver_policy: _p, ack_policy: _a, replay_policy: _r, ...changes } = wanted;
    const info = await jsm.consumers.update(spec.stream, spec.durable, changes);
    return { info, serverFilters, clientFilter };
  } catch (err) {
    throw new EventConfigError(
      `cannot ${current ? 'update' : 'create'} durable consumer ${spec.durable} on ${spec.stream}: ${describeError(err)}`,
      { cause: err },
    );
  }
}

function matches(have: ConsumerConfig, want: Partial<ConsumerConfig>): boolean {
  const haveFilters = have.filter_subjects?.length ? have.filter_subjects : have.filter_subject ? [have.filter_subject] : [];
  const wantFilters = want.filter_subjects ?? (want.filter_subject ? [want.filter_subject] : []);
  const sameFilters =
    haveFilters.length === wantFilters.length && [...haveFilters].sort().join('\n') === [...wantFilters].sort().join('\n');
  return (
    sameFilters &&
    have.max_deliver === want.max_deliver &&
    have.ack_wait === want.ack_wait &&
    have.description === want.description &&
    (want.max_ack_pending === undefined || have.max_ack_pending === want.max_ack_pending)
  );
}

/** `nepse.v1.bars.ingested.NABIL` → `nepse.v1.bars.ingested.*`. */
function wildcardOf(subject: string): string {
  return `${subject.slice(0, subject.lastIndexOf('.'))}.*`;
}

/** Whether the connected server's version is at least `major.minor`. */
export function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(nc.info?.version ?? '');
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
