import { InvalidArgumentError } from '../grpc/errors.js';

/** Canonical symbols: capitals and digits, optionally `_` or `-` (debentures, promoter shares). */
const SYMBOL = /^[A-Z0-9][A-Z0-9_-]{0,19}$/;

/** Normalises a symbol as people and exports write it: unquoted, trimmed, upper case. */
export function normaliseSymbol(raw: string): string {
  return raw.trim().replace(/^"|"$/g, '').trim().toUpperCase();
}

/** Whether a symbol is in canonical form (see {@link normaliseSymbol}). */
export function isValidSymbol(symbol: string): boolean {
  return SYMBOL.test(symbol);
}

/** The canonical form of a request's symbol; INVALID_ARGUMENT naming `field` when malformed. */
export function requireSymbol(raw: string, field = 'symbol'): string {
  // Clients mostly send the canonical form, which normalising leaves as it is: every Predict asks.
  if (SYMBOL.test(raw)) return raw;
  const symbol = normaliseSymbol(raw);
  if (symbol === '') throw new InvalidArgumentError({ field, description: 'symbol is required' });
  if (!isValidSymbol(symbol)) {
    throw new InvalidArgumentError({
      field,
      description: `symbol ${JSON.stringify(raw.slice(0, 30))} is not 1-20 capitals, digits, "_" or "-"`,
    });
  }
  return symbol;
}
