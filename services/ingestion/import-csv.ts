import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  DateOrder,
  ImportCsvResponseSchema,
  type ImportCsvRequest,
  type ImportCsvResponse,
  type ImportOptions,
} from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { fromProtoDate, requireSymbol } from '../../lib/market/index.js';
import { commitBatch, type CommitDeps } from './commit-batch.js';
import type { Column } from './csv-layout.js';
import { type CsvDefaults, CsvReader, MalformedCsvError } from './csv-reader.js';

/** Rejected rows returned in a response at most (the total is always reported). */
export const MAX_REJECTED_REPORTED = 100;

function csvDefaults(options: ImportOptions | undefined): CsvDefaults {
  if (!options) return {};
  if (options.source.length > 100) throw new InvalidArgumentError({ field: 'options.source', description: 'at most 100 characters' });
  if (options.fileName.length > 255) throw new InvalidArgumentError({ field: 'options.file_name', description: 'at most 255 characters' });
  return {
    symbol: options.defaultSymbol ? requireSymbol(options.defaultSymbol, 'options.default_symbol') : undefined,
    date: options.defaultDate ? fromProtoDate(options.defaultDate, 'options.default_date') : undefined,
    dayMonthOrder: options.dateOrder === DateOrder.DMY ? 'DMY' : options.dateOrder === DateOrder.MDY ? 'MDY' : undefined,
  };
}

/** Where a whole-file problem points: the chunk, or the option that would have supplied a missing column. */
function fieldOf(error: MalformedCsvError): string {
  if (error.field === 'symbol') return 'options.default_symbol';
  if (error.field === 'date') return 'options.default_date';
  if (error.field === 'date_order') return 'options.date_order';
  return 'chunk';
}

/**
 * ImportCsv: reads the whole stream first, so that a malformed file (binary, no header, an endless
 * line) is refused with INVALID_ARGUMENT before anything is stored; then stores the valid rows and
 * reports the rejected ones with line numbers and reasons.
 */
export async function importCsv(deps: CommitDeps, requests: AsyncIterable<ImportCsvRequest>): Promise<ImportCsvResponse> {
  let reader: CsvReader | undefined;
  let options: ImportOptions | undefined;
  try {
    for await (const request of requests) {
      if (request.options) {
        if (reader) throw new InvalidArgumentError({ field: 'options', description: 'options must come before the first chunk' });
        options = request.options;
      }
      if (request.chunk.byteLength > 0) {
        reader ??= new CsvReader(csvDefaults(options));
        reader.push(request.chunk);
      }
    }
    if (!reader) throw new InvalidArgumentError({ field: 'chunk', description: 'no CSV data was sent' });
    const result = reader.finish();
    const batchId = randomUUID();
    const outcome = await commitBatch(deps, result.bars, batchId, options?.source || options?.fileName || 'csv');
    return create(ImportCsvResponseSchema, {
      batchId,
      rowsRead: BigInt(result.rowsRead),
      rowsAccepted: BigInt(result.bars.length),
      rowsRejected: BigInt(result.rejected.length),
      barsNew: BigInt(outcome.newBars),
      barsChanged: BigInt(outcome.changedBars),
      barsUnchanged: BigInt(outcome.unchangedBars),
      symbols: outcome.symbols,
      rejectedRows: result.rejected
        .slice(0, MAX_REJECTED_REPORTED)
        .map((r) => ({ line: BigInt(r.line), field: r.field, reason: r.reason })),
      columnMappings: (Object.entries(result.layout) as [Column, number][])
        .sort((a, b) => a[1] - b[1])
        .map(([field, index]) => ({ header: result.headers[index] ?? '', field })),
    });
  } catch (error) {
    if (error instanceof MalformedCsvError) throw new InvalidArgumentError({ field: fieldOf(error), description: error.message });
    throw error;
  }
}
