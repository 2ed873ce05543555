import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, toBinary, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';
import { grpc, type GrpcJs } from './grpc-js.js';

const DESCRIPTORS = join(dirname(fileURLToPath(import.meta.url)), '../../descriptors');

/** Descriptor sets written by scripts/generate.sh: our contracts, grpc.health.v1, grpc.reflection. */
export const DESCRIPTOR_SETS = ['nepse.binpb', 'health.binpb', 'reflection.binpb'].map((f) => join(DESCRIPTORS, f));

export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const REFLECTION_PACKAGES = ['grpc.reflection.v1', 'grpc.reflection.v1alpha'];

let registry: FileRegistry | undefined;

/** Every file of the descriptor sets, loaded once per process. */
export function descriptorRegistry(): FileRegistry {
  if (registry) return registry;
  const files = DESCRIPTOR_SETS.flatMap((path) => fromBinary(FileDescriptorSetSchema, readFileSync(path)).file);
  const unique = [...new Map(files.map((f) => [f.name, f])).values()];
  registry = createFileRegistry({ $typeName: 'google.protobuf.FileDescriptorSet', file: unique } as never);
  return registry;
}

/** A file and everything it imports, the file first, each once. */
export function withDependencies(file: DescFile): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    out.push(Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

/** The file that declares a fully-qualified symbol: a type, service, method, field or enum value. */
export function fileOfSymbol(reg: FileRegistry, symbol: string): DescFile | undefined {
  for (let name = symbol; name.includes('.') || name === symbol; name = name.slice(0, name.lastIndexOf('.'))) {
    const desc = reg.get(name);
    if (desc) return desc.file;
    if (!name.includes('.')) break;
  }
  return undefined;
}

/** A reflection request as proto-loader decodes it (descriptor-set loading keeps proto field names). */
interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type: string; extension_number: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

/**
 * Answers one reflection request from the original descriptor bytes that buf wrote, so clients
 * (grpcurl, `buf curl`) see exactly the compiled contracts, comments and all.
 */
function answer(reg: FileRegistry, services: readonly string[], request: ReflectionRequest): Record<string, unknown> {
  const base = { valid_host: request.host ?? '', original_request: request };
  const notFound = (what: string) => ({
    ...base,
    error_response: { error_code: grpc.status.NOT_FOUND, error_message: `${what} not found` },
  });
  switch (request.message_request) {
    case 'list_services':
      return { ...base, list_services_response: { service: services.map((name) => ({ name })) } };
    case 'file_by_filename': {
      const file = reg.getFile(request.file_by_filename ?? '');
      return file
        ? { ...base, file_descriptor_response: { file_descriptor_proto: withDependencies(file) } }
        : notFound(`file ${request.file_by_filename}`);
    }
    case 'file_containing_symbol': {
      const file = fileOfSymbol(reg, request.file_containing_symbol ?? '');
      return file
        ? { ...base, file_descriptor_response: { file_descriptor_proto: withDependencies(file) } }
        : notFound(`symbol ${request.file_containing_symbol}`);
    }
    case 'file_containing_extension': {
      const wanted = request.file_containing_extension;
      const message = wanted ? reg.getMessage(wanted.containing_type) : undefined;
      const extension = message ? reg.getExtensionFor(message, wanted?.extension_number ?? 0) : undefined;
      return extension
        ? { ...base, file_descriptor_response: { file_descriptor_proto: withDependencies(extension.file) } }
        : notFound('extension');
    }
    case 'all_extension_numbers_of_type': {
      const message = reg.getMessage(request.all_extension_numbers_of_type ?? '');
      if (!message) return notFound(`type ${request.all_extension_numbers_of_type}`);
      const numbers: number[] = [];
      for (const desc of reg) if (desc.kind === 'extension' && desc.extendee.typeName === message.typeName) numbers.push(desc.number);
      return { ...base, all_extension_numbers_response: { base_type_name: message.typeName, extension_number: numbers } };
    }
    default:
      return { ...base, error_response: { error_code: grpc.status.UNIMPLEMENTED, error_message: 'unknown reflection request' } };
  }
}

/**
 * Adds server reflection (v1 and v1alpha) to a server, listing exactly the services it answers
 * plus health and reflection, so grpcurl and `buf curl` work with no .proto files at hand.
 */
export function addReflection(server: GrpcJs.Server, servedServices: readonly string[]): void {
  const reg = descriptorRegistry();
  const services = [...servedServices, HEALTH_SERVICE, ...REFLECTION_PACKAGES.map((p) => `${p}.ServerReflection`)];
  const definition = protoLoader.loadFileDescriptorSetFromBuffer(readFileSync(DESCRIPTOR_SETS[2]), {
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  for (const pkg of REFLECTION_PACKAGES) {
    const service = definition[`${pkg}.ServerReflection`] as GrpcJs.ServiceDefinition;
    server.addService(service, {
      ServerReflectionInfo: (call: GrpcJs.ServerDuplexStream<ReflectionRequest, unknown>) => {
        call.on('data', (request: ReflectionRequest) => call.write(answer(reg, services, request)));
        call.on('end', () => call.end());
        call.on('error', () => call.end());
      },
    });
  }
}
