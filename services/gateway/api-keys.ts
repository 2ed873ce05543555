/**
 * API keys: stored hashed (sha256 of the whole key), from a file and/or the environment, read again
 * whenever the file changes so that a key is added, rotated or revoked without a restart.
 *
 * A key looks like `nepse_<id>_<secret>`: the id finds the entry, the hash proves the secret.
 * The file (YAML or JSON):
 *
 * ```yaml
 * keys:
 *   - id: ops1                 # letters, digits, "-"; unique
 *     principal: ops-team      # who, as recorded in the registry's history
 *     role: operator           # viewer, operator or admin
 *     sha256: 9f86d0...        # hex sha256 of the whole key (hash-key.ts prints it)
 *     revoked: false           # optional; true refuses the key
 *     ratePerSecond: 50        # optional overrides of the role's limits (limits.ts)
 *     burst: 100
 *     maxStreams: 16
 * ```
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { stat, readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseRole, type GrantedRole } from './roles.js';

const ID = /^[A-Za-z0-9-]{1,40}$/;
const KEY = /^nepse_([A-Za-z0-9-]{1,40})_([A-Za-z0-9_-]{16,200})$/;

const entrySchema = z.object({
  id: z.string().regex(ID, 'letters, digits or "-", at most 40'),
  principal: z.string().min(1).max(100),
  role: z.string().refine((r) => parseRole(r) !== undefined, 'viewer, operator or admin'),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits'),
  revoked: z.boolean().default(false),
  ratePerSecond: z.number().positive().optional(),
  burst: z.number().int().positive().optional(),
  maxStreams: z.number().int().positive().optional(),
});
const fileSchema = z.object({ keys: z.array(entrySchema).default([]) });

/** One key the gateway knows. */
export interface ApiKeyEntry {
  readonly id: string;
  readonly principal: string;
  readonly role: GrantedRole;
  readonly sha256: Buffer;
  readonly revoked: boolean;
  readonly source: 'file' | 'env' | 'dev';
  readonly limits: { ratePerSecond?: number; burst?: number; maxStreams?: number };
}

/** Why a presented key was refused. */
export type KeyRefusal = 'malformed' | 'unknown' | 'revoked';

/** sha256 of a key, hex: what a keys file stores. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random key with the given id. */
export function newKey(id: string): string {
  if (!ID.test(id)) throw new Error(`key id ${JSON.stringify(id)}: letters, digits or "-", at most 40`);
  return `nepse_${id}_${randomBytes(24).toString('base64url')}`;
}

/** Parses a keys document (YAML or JSON); throws naming the offending entry. */
export function parseKeys(text: string, source: ApiKeyEntry['source']): ApiKeyEntry[] {
  const parsed = fileSchema.safeParse(parse(text) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`API keys (${source}): ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data.keys.map((k) => ({
    id: k.id,
    principal: k.principal,
    role: parseRole(k.role)!,
    sha256: Buffer.from(k.sha256, 'hex'),
    revoked: k.revoked,
    source,
    limits: { ratePerSecond: k.ratePerSecond, burst: k.burst, maxStreams: k.maxStreams },
  }));
}

/** Options of {@link createKeyStore}. */
export interface KeyStoreOptions {
  /** Keys file, re-read when its modification time or size changes. */
  file?: string;
  /** Keys inline (GATEWAY_API_KEYS). */
  inline?: string;
  /** Keys added in code (the development key). */
  extra?: readonly ApiKeyEntry[];
  /** How often the file is checked at most, in ms. */
  reloadMs: number;
  /** Told when a changed file cannot be used (the previous keys stay in force). */
  onReloadError?: (error: Error) => void;
}

/** The keys in force, kept current with the file. */
export interface KeyStore {
  /** The entry a presented key proves, or why it is refused. */
  verify(key: string): Promise<ApiKeyEntry | KeyRefusal>;
  /**
   * The entry of a key already proven, when the keys need no look at the file first: what
   * {@link verify} would answer, without a promise. Undefined means ask {@link verify}.
   */
  provenNow(key: string): ApiKeyEntry | undefined;
  /** Every key by id (after a check of the file). */
  list(): Promise<ApiKeyEntry[]>;
  /** Why the keys file last failed to load (the previous keys stay in force), or undefined while it loads. */
  problem(): string | undefined;
}

/** Loads the keys (a bad file stops the start) and returns the store. */
export async function createKeyStore(options: KeyStoreOptions): Promise<KeyStore> {
  const fixed = [...(options.inline ? parseKeys(options.inline, 'env') : []), ...(options.extra ?? [])];
  let byId = new Map<string, ApiKeyEntry>();
  // Keys proven since the keys last changed: a repeated key is one map lookup, not a hash.
  let proven = new Map<string, ApiKeyEntry>();
  let signature = '';
  let checkedAt = 0;
  const load = async () => {
    let fromFile: ApiKeyEntry[] = [];
    if (options.file) {
      const info = await stat(options.file);
      const next = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (next === signature) return;
      fromFile = parseKeys(await readFile(options.file, 'utf8'), 'file');
      signature = next;
    }
    // File entries first, so a key revoked in the file stays revoked even if also given inline.
    const merged = new Map<string, ApiKeyEntry>();
    for (const entry of [...fromFile, ...fixed]) if (!merged.has(entry.id)) merged.set(entry.id, entry);
    byId = merged;
    proven = new Map();
  };
  await load();
  let problem: string | undefined;
  const refresh = async () => {
    if (!options.file || Date.now() - checkedAt < options.reloadMs) return;
    checkedAt = Date.now();
    try {
      await load();
      problem = undefined;
    } catch (error) {
      if (problem === undefined) options.onReloadError?.(error as Error);
      problem = (error as Error).message;
    }
  };
  return {
    async verify(key) {
      await refresh();
      const known = proven.get(key);
      if (known) return known;
      const match = KEY.exec(key);
      if (!match) return 'malformed';
      const entry = byId.get(match[1]);
      if (!entry) return 'unknown';
      const presented = createHash('sha256').update(key).digest();
      if (!timingSafeEqual(presented, entry.sha256)) return 'unknown';
      if (entry.revoked) return 'revoked';
      // One string per entry can match its hash, so this holds at most one key per entry.
      proven.set(key, entry);
      return entry;
    },
    provenNow(key) {
      if (options.file && Date.now() - checkedAt >= options.reloadMs) return undefined;
      return proven.get(key);
    },
    async list() {
      await refresh();
      return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
    },
    problem: () => problem,
  };
}
