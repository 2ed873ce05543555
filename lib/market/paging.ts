import { InvalidArgumentError } from '../grpc/errors.js';

/** Page size when a request leaves it 0, and the most any request gets (market.proto conventions). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** The effective page size of a request: 0 → default, capped at the maximum, negative refused. */
export function pageSize(requested: number, field = 'page_size'): number {
  if (requested < 0) throw new InvalidArgumentError({ field, description: `must not be negative, got ${requested}` });
  return Math.min(requested || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
}

/** An opaque page token for a cursor value. */
export function encodePageToken(cursor: string): string {
  return Buffer.from(JSON.stringify({ after: cursor })).toString('base64url');
}

/** The cursor inside a page token ('' for the first page); INVALID_ARGUMENT when it is not one of ours. */
export function decodePageToken(token: string, field = 'page_token'): string {
  if (token === '') return '';
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError({ field, description: 'not a page token returned by this service' });
}
