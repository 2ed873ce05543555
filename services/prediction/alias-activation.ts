/**
 * Aliases followed live: at start, every alias the registry holds is loaded; then ModelAliasSet
 * (nepse.v1.models.alias_set, published by SetAlias through the registry's outbox) moves them.
 * A move takes the promotion's path — download, verify, load, smoke-test (model-loader.ts), then
 * one atomic swap (model-aliases.ts) — and the old target serves the alias until the swap, so no
 * request fails while an alias moves. A target that cannot be loaded leaves the old one serving.
 *
 * Each instance has its own durable (`prediction-<id>-aliases`) for the reason activation.ts
 * gives: every instance serves every alias. A new durable replays old moves; each is checked
 * against the registry's alias of the moment, so only the last one is loaded.
 */
import * as grpc from '@grpc/grpc-js';
import type { ModelAliasSet } from '../../gen/nepse/events/v1/events_pb.js';
import type { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventRejectedError, type Delivery, type EventBus, type EventSubscription } from '../../lib/events/index.js';
import type { ServiceClient } from '../../lib/grpc/index.js';
import { isModelName } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { activationDurables } from './activation.js';
import { ALIAS_PATTERN, type ModelAliases } from './model-aliases.js';
import { isTransient, type ModelLoader } from './model-loader.js';

/** Where the registry's aliases point now. */
export interface AliasDirectory {
  /** Every alias the registry holds. */
  all(): Promise<Array<{ name: string; alias: string; version: number; sha256: string }>>;
  /** The version `alias` of `name` points at now; 0 when unset. */
  target(name: string, alias: string): Promise<number>;
}

/** The registry as an {@link AliasDirectory}; `timeoutMs` bounds each call. */
export function registryAliases(registry: ServiceClient<typeof RegistryService>, timeoutMs = 10_000): AliasDirectory {
  return {
    async all() {
      const out: Array<{ name: string; alias: string; version: number; sha256: string }> = [];
      let pageToken = '';
      do {
        const page = await registry.listModels({ pageSize: 1000, pageToken }, { signal: AbortSignal.timeout(timeoutMs) });
        for (const v of page.modelVersions)
          for (const alias of v.aliases) out.push({ name: v.name, alias, version: v.version, sha256: v.artifact?.sha256 ?? '' });
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return out;
    },
    async target(name, alias) {
      try {
        const found = await registry.getModel(
          { name, selector: { case: 'alias', value: alias } },
          { signal: AbortSignal.timeout(timeoutMs) },
        );
        return found.modelVersion?.version ?? 0;
      } catch (error) {
        if ((error as { code?: unknown })?.code === grpc.status.NOT_FOUND) return 0;
        throw error;
      }
    },
  };
}

/** Options of {@link startAliasActivation}. */
export interface AliasActivationOptions {
  aliases: ModelAliases;
  loader: Pick<ModelLoader, 'load'>;
  directory: AliasDirectory;
  events: EventBus;
  instanceId: string;
  logger: Logger;
  /** Deliveries of one move before a transient failure is given up on. Default 10. */
  maxDeliver?: number;
  /** Redelivery delays, in ms. Default 1 s, 5 s, 15 s, 30 s, 60 s. */
  backoffMs?: readonly number[];
}

/** What handling one ModelAliasSet did. */
export type AliasOutcome = 'moved' | 'removed' | 'already_there' | 'superseded' | 'failed';

/** The ModelAliasSet handler, apart from its consumer (tests call it directly). */
export function createAliasHandler(
  options: AliasActivationOptions,
): (event: ModelAliasSet, delivery: Pick<Delivery, 'deliveryCount'>) => Promise<AliasOutcome> {
  const { aliases, loader, directory, logger } = options;
  const maxDeliver = options.maxDeliver ?? 10;
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(k: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(k) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => {});
    queues.set(k, tail);
    void tail.then(() => queues.get(k) === tail && queues.delete(k));
    return run;
  };

  return (event, delivery) => {
    const { name, alias, version } = event;
    if (!isModelName(name) || !ALIAS_PATTERN.test(alias) || !Number.isInteger(version) || version < 0) {
      throw new EventRejectedError(
        `alias change ${event.changeId} names no valid alias: ${JSON.stringify(name)}@${JSON.stringify(alias)} → ${version}`,
      );
    }
    return serial(`${name}@${alias}`, async (): Promise<AliasOutcome> => {
      try {
        // Replayed or overtaken moves are skipped: the registry's alias of the moment decides.
        const now = await directory.target(name, alias);
        if (now !== version) return 'superseded';
        if (version === 0) {
          aliases.set(alias, name, undefined);
          return 'removed';
        }
        if (aliases.get(name, alias)?.version === version) return 'already_there';
        const model =
          aliases.find(name, version) ?? (await loader.load(name, version, { expectedSha256: event.artifactSha256 || undefined }));
        aliases.set(alias, name, model);
        return 'moved';
      } catch (error) {
        if (isTransient(error) && delivery.deliveryCount < maxDeliver) throw error;
        logger.error(
          { err: error, model: name, alias, version },
          'alias target cannot be loaded; the alias keeps its previous target here',
        );
        return 'failed';
      }
    });
  };
}

/** A running alias consumer. */
export interface RunningAliasActivation {
  stop(): Promise<void>;
}

/**
 * Loads every alias the registry holds (failures are logged and left out), then follows
 * ModelAliasSet with this instance's durable.
 */
export async function startAliasActivation(options: AliasActivationOptions): Promise<RunningAliasActivation> {
  const { aliases, loader, directory, logger } = options;
  try {
    for (const a of await directory.all()) {
      try {
        aliases.set(
          a.alias,
          a.name,
          aliases.find(a.name, a.version) ?? (await loader.load(a.name, a.version, { expectedSha256: a.sha256 || undefined })),
        );
      } catch (error) {
        logger.error({ err: error, model: a.name, alias: a.alias, version: a.version }, 'alias target could not be loaded at start');
      }
    }
  } catch (error) {
    // The Production models are what readiness waits for; aliases come with their next move.
    logger.warn({ err: error }, 'registry aliases not read at start; following alias changes only');
  }
  const handle = createAliasHandler(options);
  const durable = activationDurables(options.instanceId).promotions.replace(/-promotions$/, '-aliases');
  const subscription: EventSubscription = await options.events.consume(
    MeshEvents.modelAliasSet,
    {
      durable,
      concurrency: 1,
      maxDeliver: options.maxDeliver ?? 10,
      backoffMs: options.backoffMs ?? [1_000, 5_000, 15_000, 30_000, 60_000],
      ackWaitMs: 180_000,
    },
    async (event, delivery) => void (await handle(event, delivery)),
  );
  logger.info({ aliases: aliases.list(), durable }, 'aliases loaded; following alias changes');
  return { stop: () => subscription.stop() };
}
