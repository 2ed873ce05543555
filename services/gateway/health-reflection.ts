/**
 * grpc.health.v1 and server reflection (v1 and v1alpha) on the gateway's Connect router, from the
 * same descriptor sets the grpc-js services serve them from (lib/grpc/reflection.ts), so grpcurl
 * and `buf curl` list and call the gateway's public services by reflection alone.
 */
import { create, type DescMessage, type DescService } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { descriptorRegistry, fileOfSymbol, HEALTH_SERVICE, REFLECTION_PACKAGES, withDependencies } from '../../lib/grpc/reflection.js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus values. */
const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

/** The health service's descriptor, for the gateway's clients of the mesh's health checks too. */
export function healthService(): DescService {
  return descriptorRegistry().getService(HEALTH_SERVICE)!;
}

const message = (name: string): DescMessage => descriptorRegistry().getMessage(name)!;

/** Options of {@link addHealthAndReflection}. */
export interface HealthReflectionOptions {
  /** Services listed by reflection and known to health (besides health and reflection). */
  services: readonly string[];
  /** Whether the gateway is serving now. */
  isServing: () => boolean;
}

/** Registers grpc.health.v1.Health and both reflection services on `router`. */
export function addHealthAndReflection(router: ConnectRouter, options: HealthReflectionOptions): void {
  const health = healthService();
  const response = message('grpc.health.v1.HealthCheckResponse');
  const known = new Set(['', ...options.services, HEALTH_SERVICE]);
  const statusOf = (service: string) => (!known.has(service) ? SERVICE_UNKNOWN : options.isServing() ? SERVING : NOT_SERVING);
  router.service(health, {
    check: (req: { service: string }) => create(response, { status: statusOf(req.service) } as never),
    watch: async function* (req: { service: string }, ctx: { signal: AbortSignal }) {
      // Sends the status now and whenever it changes, until the caller leaves.
      let last = -1;
      while (!ctx.signal.aborted) {
        const status = statusOf(req.service);
        if (status !== last) yield create(response, { status } as never);
        last = status;
        await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
      }
    },
  } as never);

  const listed = [...options.services, HEALTH_SERVICE, ...REFLECTION_PACKAGES.map((p) => `${p}.ServerReflection`)];
  const reg = descriptorRegistry();
  for (const pkg of REFLECTION_PACKAGES) {
    const reflection = reg.getService(`${pkg}.ServerReflection`)!;
    const reply = message(`${pkg}.ServerReflectionResponse`);
    type Request = { host: string; messageRequest: { case?: string; value?: unknown } };
    const answer = (request: Request) => {
      const base = { validHost: request.host, originalRequest: request };
      const files = (file: ReturnType<typeof reg.getFile>) => ({
        case: 'fileDescriptorResponse',
        value: { fileDescriptorProto: withDependencies(file!) },
      });
      const notFound = (what: string) => ({ case: 'errorResponse', value: { errorCode: 5, errorMessage: `${what} not found` } });
      const { case: kind, value } = request.messageRequest;
      let messageResponse;
      if (kind === 'listServices') {
        messageResponse = { case: 'listServicesResponse', value: { service: listed.map((name) => ({ name })) } };
      } else if (kind === 'fileByFilename') {
        const file = reg.getFile(value as string);
        messageResponse = file ? files(file) : notFound(`file ${value}`);
      } else if (kind === 'fileContainingSymbol') {
        const file = fileOfSymbol(reg, value as string);
        messageResponse = file ? files(file) : notFound(`symbol ${value}`);
      } else if (kind === 'fileContainingExtension') {
        const wanted = value as { containingType: string; extensionNumber: number };
        const extendee = reg.getMessage(wanted.containingType);
        const extension = extendee ? reg.getExtensionFor(extendee, wanted.extensionNumber) : undefined;
        messageResponse = extension ? files(extension.file) : notFound('extension');
      } else if (kind === 'allExtensionNumbersOfType') {
        const extendee = reg.getMessage(value as string);
        const numbers: number[] = [];
        for (const desc of reg) if (desc.kind === 'extension' && desc.extendee.typeName === extendee?.typeName) numbers.push(desc.number);
        messageResponse = extendee
          ? { case: 'allExtensionNumbersResponse', value: { baseTypeName: extendee.typeName, extensionNumber: numbers } }
          : notFound(`type ${value}`);
      } else {
        messageResponse = { case: 'errorResponse', value: { errorCode: 12, errorMessage: 'unknown reflection request' } };
      }
      return create(reply, { ...base, messageResponse } as never);
    };
    router.service(reflection, {
      serverReflectionInfo: async function* (requests: AsyncIterable<Request>) {
        for await (const request of requests) yield answer(request);
      },
    } as never);
  }
}
