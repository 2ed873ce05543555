/**
 * What the harness knows of one service: how to start it in this process through the service's
 * own exported start function, its gRPC contract, and the settings a test wants by default.
 */
import type { DescService } from '@bufbuild/protobuf';

/** The mesh's services, in the order they start: each only needs those before it. */
export const SERVICE_NAMES = ['ingestion', 'feature', 'registry', 'training', 'prediction', 'monitoring', 'gateway'] as const;

/** One of the mesh's services. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** What every service's start function answers. Ports are loopback ports. */
export interface RunningService {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/** How the harness starts one service in-process. `O` is what the start function takes beyond its configuration. */
export interface ServiceDriver<R extends RunningService = RunningService, O = never> {
  readonly name: ServiceName;
  /** The gRPC service it serves, for clients. */
  readonly definition: DescService;
  /**
   * Start phase: services of a phase start side by side, after every earlier phase. A service that
   * reads others while starting (Production models, upstreams) comes after them.
   */
  readonly phase: 0 | 1 | 2;
  /** Test defaults (short intervals), under what the network and the test set. */
  readonly env: Record<string, string>;
  /** Starts the service from environment variables, as its main.ts would. */
  start(env: Record<string, string>, options?: O): Promise<R>;
}
