/**
 * UploadCsv: a whole CSV file in one message, for callers that cannot send a client stream
 * (a browser, Connect over HTTP/1.1), passed to IngestionService.ImportCsv in 256 KiB chunks.
 * The size is bounded by GATEWAY_UPLOAD_MAX_BYTES.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { UploadCsvRequest, UploadCsvResponseSchema } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import type { ImportCsvRequestSchema } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { toConnectError } from './errors.js';
import { callerContext, forwardOptions, type ForwardDefaults } from './forward.js';
import type { Upstreams } from './upstreams.js';
import { context as otelContext } from '@opentelemetry/api';

/** Bytes per ImportCsv chunk (the contract asks for chunks below 1 MiB). */
const CHUNK_BYTES = 256 * 1024;

/** UploadCsv. */
export async function uploadCsv(
  upstreams: Upstreams,
  request: UploadCsvRequest,
  ctx: HandlerContext,
  limits: { maxBytes: number } & ForwardDefaults,
): Promise<MessageInitShape<typeof UploadCsvResponseSchema>> {
  if (request.content.length === 0) throw toConnectError(new InvalidArgumentError({ field: 'content', description: 'the file is empty' }));
  if (request.content.length > limits.maxBytes) {
    throw toConnectError(
      new InvalidArgumentError({
        field: 'content',
        description: `${request.content.length} bytes is over the upload limit of ${limits.maxBytes}; send larger files as an ImportCsv client stream`,
      }),
    );
  }
  const content = request.content;
  function* chunks(): Generator<MessageInitShape<typeof ImportCsvRequestSchema>> {
    for (let at = 0; at < content.length; at += CHUNK_BYTES) {
      yield { options: at === 0 ? request.options : undefined, chunk: content.subarray(at, at + CHUNK_BYTES) };
    }
  }
  try {
    const options = { ...forwardOptions(ctx, limits), timeoutMs: ctx.timeoutMs() ?? 600_000 };
    const result = await otelContext.with(callerContext(ctx), () => upstreams.ingestion.importCsv(chunks(), options));
    return { result };
  } catch (error) {
    throw toConnectError(error);
  }
}
