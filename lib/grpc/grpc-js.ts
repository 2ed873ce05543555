import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';

/**
 * The @grpc/grpc-js module, loaded through `require` on purpose: OpenTelemetry's gRPC
 * instrumentation patches modules as `require` loads them, and an ESM `import` of this CommonJS
 * package would slip past it. lib/telemetry installs the instrumentation before this runs.
 */
export const grpc: typeof GrpcJs = createRequire(import.meta.url)('@grpc/grpc-js');

export type { GrpcJs };
