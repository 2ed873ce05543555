import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createFileRegistry, fromBinary, type DescMethod } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { parse } from 'yaml';
import { z } from 'zod';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '..');

/** Path of the one call graph. */
export const CALL_GRAPH_FILE = join(ROOT, 'mesh', 'call-graph.yaml');

const serviceSchema = z.object({
  /** gRPC port. */
  port: z.number().int(),
  /** Metrics and health HTTP port. */
  metricsPort: z.number().int(),
  /** Fully qualified names of the gRPC services the process serves; the first is its health and probe name. */
  serves: z.array(z.string()).min(1),
  /** Embedded engines the local image carries (`chdb`, `pglite`); the server image carries none. */
  embedded: z.array(z.enum(['chdb', 'pglite'])),
  /** The server it keeps its data in when not embedded. */
  store: z.enum(['clickhouse', 'postgres', 'none']),
  /** Events published and consumed, by name (`bars.ingested`). */
  publishes: z.array(z.string()),
  consumes: z.array(z.string()),
  /** Callee service → gRPC path → the caller's deadline for it in milliseconds (0: a stream). */
  calls: z.record(z.string(), z.record(z.string(), z.number().int().min(0))),
  /** Reached from outside the cluster through the ingress gateway. */
  public: z.boolean().default(false),
  resources: z.object({ cpu: z.string(), memory: z.string(), cpuLimit: z.string(), memoryLimit: z.string() }),
});

const graphSchema = z.object({
  namespace: z.string(),
  nats: z.object({ client: z.number().int(), cluster: z.number().int(), monitor: z.number().int() }),
  services: z.record(z.string(), serviceSchema),
});

/** One service of the call graph. */
export type MeshService = z.infer<typeof serviceSchema> & { name: string };

/** The whole call graph. */
export interface CallGraph {
  namespace: string;
  nats: z.infer<typeof graphSchema>['nats'];
  services: MeshService[];
}

/** Reads and validates mesh/call-graph.yaml. */
export function loadCallGraph(file = CALL_GRAPH_FILE): CallGraph {
  const raw = graphSchema.parse(parse(readFileSync(file, 'utf8')));
  const services = Object.entries(raw.services).map(([name, spec]) => ({ name, ...spec }));
  const names = new Set(services.map((s) => s.name));
  for (const service of services) {
    for (const callee of Object.keys(service.calls)) {
      if (!names.has(callee)) throw new Error(`call graph: ${service.name} calls unknown service ${callee}`);
    }
  }
  return { namespace: raw.namespace, nats: raw.nats, services };
}

/** Callers of a service: each caller with the paths it calls on it and their deadlines (ms). */
export function callersOf(graph: CallGraph, callee: string): { caller: MeshService; paths: Record<string, number> }[] {
  return graph.services.flatMap((caller) => (caller.calls[callee] ? [{ caller, paths: caller.calls[callee] }] : []));
}

/** The SPIFFE principal of a service's account, as Istio's AuthorizationPolicy names it. */
export function principal(graph: CallGraph, service: string): string {
  return `cluster.local/ns/${graph.namespace}/sa/${service}`;
}

/** A method of the contracts, as the descriptor sets in descriptors/ define it. */
export interface ContractMethod {
  /** `package.Service/Method`. */
  path: string;
  /** Unary, server_streaming, client_streaming or bidi_streaming. */
  kind: DescMethod['methodKind'];
  /** Marked `idempotency_level = NO_SIDE_EFFECTS`: only these get mesh retries. */
  noSideEffects: boolean;
}

/** Every method of every service in descriptors/*.binpb, by path. */
export function contractMethods(): Map<string, ContractMethod> {
  const methods = new Map<string, ContractMethod>();
  for (const file of ['nepse.binpb', 'health.binpb']) {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(ROOT, 'descriptors', file)));
    const registry = createFileRegistry(set);
    for (const type of registry) {
      if (type.kind !== 'service') continue;
      for (const method of type.methods) {
        const path = `${type.typeName}/${method.name}`;
        methods.set(path, {
          path,
          kind: method.methodKind,
          noSideEffects: method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
        });
      }
    }
  }
  return methods;
}
