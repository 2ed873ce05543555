import type { Migration, Queryable } from '../../lib/postgres/index.js';

/** Stages as stored (text, so rows read well in psql). */
export type StageName = 'none' | 'staging' | 'production' | 'archived';
/** Version health as stored. */
export type StatusName = 'ready' | 'activation_failed';
/** Kinds of history entries as stored. */
export type ChangeKindName = 'registered' | 'stage_changed' | 'alias_set' | 'alias_removed' | 'activation_failed' | 'rolled_back';
/** Lifecycle of a promotion saga. */
export type PromotionState = 'pending' | 'active' | 'superseded' | 'rolled_back';

/** The registry's own tables, in the `registry` schema. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '001_models',
    statements: [
      // One row per model name: the row every change of the name's versions locks first
      // (SELECT … FOR UPDATE), so version numbers, stages and aliases change one at a time per name.
      `CREATE TABLE models (
        name text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE model_versions (
        name text NOT NULL REFERENCES models (name),
        version int NOT NULL CHECK (version >= 1),
        description text NOT NULL DEFAULT '',
        feature_set_name text NOT NULL,
        feature_set_version int NOT NULL CHECK (feature_set_version >= 1),
        input jsonb NOT NULL,
        output jsonb NOT NULL,
        target_kind int NOT NULL,
        target_horizon_sessions int NOT NULL,
        target_description text NOT NULL DEFAULT '',
        training_start date,
        training_end date,
        backtest jsonb,
        feature_distributions jsonb NOT NULL DEFAULT '[]',
        training_job_id text NOT NULL DEFAULT '',
        code_revision text NOT NULL DEFAULT '',
        tags jsonb NOT NULL DEFAULT '{}',
        artifact_format text NOT NULL DEFAULT 'onnx',
        artifact_sha256 text NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
        artifact_size_bytes bigint NOT NULL CHECK (artifact_size_bytes > 0),
        stage text NOT NULL DEFAULT 'none' CHECK (stage IN ('none', 'staging', 'production', 'archived')),
        status text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'activation_failed')),
        status_reason text NOT NULL DEFAULT '',
        registered_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        stage_changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, version),
        CONSTRAINT model_versions_artifact_once UNIQUE (name, artifact_sha256)
      )`,
      // The last line of defence behind the per-name lock: two Production versions of one name
      // cannot both be committed, whatever a future code path forgets.
      `CREATE UNIQUE INDEX model_versions_one_production ON model_versions (name) WHERE stage = 'production'`,
      `CREATE INDEX model_versions_by_stage ON model_versions (stage, name, version)`,
      `CREATE TABLE model_aliases (
        name text NOT NULL,
        alias text NOT NULL,
        version int NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
      )`,
    ],
  },
  {
    id: '002_history',
    statements: [
      `CREATE TABLE model_history (
        sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL,
        version int NOT NULL,
        kind text NOT NULL CHECK (kind IN ('registered', 'stage_changed', 'alias_set', 'alias_removed', 'activation_failed', 'rolled_back')),
        from_stage text,
        to_stage text,
        alias text NOT NULL DEFAULT '',
        related_version int NOT NULL DEFAULT 0,
        actor text NOT NULL,
        reason text NOT NULL DEFAULT '',
        promotion_id text NOT NULL DEFAULT '',
        changed_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
      )`,
      `CREATE INDEX model_history_by_name ON model_history (name, sequence)`,
      // Append-only by construction, not by convention: the audit trail is what users trust.
      `CREATE FUNCTION model_history_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'model_history is append-only' USING ERRCODE = 'insufficient_privilege';
       END $$`,
      `CREATE TRIGGER model_history_append_only BEFORE UPDATE OR DELETE ON model_history
       FOR EACH ROW EXECUTE FUNCTION model_history_refuse_change()`,
      `CREATE TRIGGER model_history_no_truncate BEFORE TRUNCATE ON model_history
       FOR EACH STATEMENT EXECUTE FUNCTION model_history_refuse_change()`,
    ],
  },
  {
    id: '003_promotions',
    statements: [
      // One row per promotion saga: what was promoted, what it replaced, and how it ended.
      `CREATE TABLE promotions (
        promotion_id text PRIMARY KEY,
        name text NOT NULL,
        version int NOT NULL,
        previous_version int NOT NULL DEFAULT 0,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'superseded', 'rolled_back')),
        actor text NOT NULL,
        reason text NOT NULL DEFAULT '',
        failed_instance text NOT NULL DEFAULT '',
        failure_reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
      )`,
      `CREATE INDEX promotions_by_version ON promotions (name, version, created_at)`,
      // Every prediction instance's answer, once per promotion and instance (redeliveries collapse).
      `CREATE TABLE activations (
        promotion_id text NOT NULL REFERENCES promotions (promotion_id),
        instance_id text NOT NULL,
        result text NOT NULL CHECK (result IN ('ok', 'failed')),
        reason text NOT NULL DEFAULT '',
        duration_ms double precision NOT NULL DEFAULT 0,
        reported_at timestamptz,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (promotion_id, instance_id)
      )`,
    ],
  },
  {
    id: '004_event_outbox',
    statements: [
      // Events are written in the transaction of the change they announce and published after
      // commit; the relay re-sends what NATS did not acknowledge, so no promotion or rollback is
      // ever committed without its event.
      `CREATE TABLE event_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event text NOT NULL,
        key text NOT NULL,
        msg_id text NOT NULL UNIQUE,
        payload bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      )`,
      `CREATE INDEX event_outbox_unsent ON event_outbox (id) WHERE sent_at IS NULL`,
    ],
  },
];

/** A model version as stored, with its aliases. */
export interface VersionRow {
  name: string;
  version: number;
  description: string;
  feature_set_name: string;
  feature_set_version: number;
  input: unknown;
  output: unknown;
  target_kind: number;
  target_horizon_sessions: number;
  target_description: string;
  training_start: string | null;
  training_end: string | null;
  backtest: unknown;
  feature_distributions: unknown;
  training_job_id: string;
  code_revision: string;
  tags: Record<string, string>;
  artifact_format: string;
  artifact_sha256: string;
  artifact_size_bytes: number;
  stage: StageName;
  status: StatusName;
  status_reason: string;
  registered_by: string;
  created_at: Date;
  stage_changed_at: Date;
  aliases: string[];
}

/** A new version's columns (JSON columns as JSON text). */
export interface NewVersion {
  name: string;
  description: string;
  featureSetName: string;
  featureSetVersion: number;
  input: string;
  output: string;
  targetKind: number;
  targetHorizonSessions: number;
  targetDescription: string;
  trainingStart: string | null;
  trainingEnd: string | null;
  backtest: string | null;
  featureDistributions: string;
  trainingJobId: string;
  codeRevision: string;
  tags: string;
  artifactSha256: string;
  artifactSizeBytes: number;
  registeredBy: string;
}

/** A history entry as stored. */
export interface HistoryRow {
  sequence: number;
  name: string;
  version: number;
  kind: ChangeKindName;
  from_stage: StageName | null;
  to_stage: StageName | null;
  alias: string;
  related_version: number;
  actor: string;
  reason: string;
  promotion_id: string;
  changed_at: Date;
}

/** A history entry to append. */
export interface NewHistory {
  name: string;
  version: number;
  kind: ChangeKindName;
  fromStage?: StageName;
  toStage?: StageName;
  alias?: string;
  relatedVersion?: number;
  actor: string;
  reason?: string;
  promotionId?: string;
}

/** A promotion saga as stored. */
export interface PromotionRow {
  promotion_id: string;
  name: string;
  version: number;
  previous_version: number;
  state: PromotionState;
  actor: string;
  reason: string;
}

/** An event waiting in (or sent from) the outbox. */
export interface OutboxRow {
  id: number;
  event: string;
  key: string;
  msg_id: string;
  payload: Uint8Array;
}

/** Filters of a version list. */
export interface VersionFilter {
  name?: string;
  stage?: StageName;
  alias?: string;
}

const VERSION_SELECT = `SELECT v.*,
  coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM model_aliases a WHERE a.name = v.name AND a.version = v.version), ARRAY[]::text[]) AS aliases
  FROM model_versions v`;

/** The registry's SQL, in one place. Every method takes the connection or transaction to use. */
export const registryStore = {
  /**
   * Locks the model's row for the rest of the transaction, creating it when `create` is set.
   * Every change of a name's versions starts here, so changes of one name never interleave.
   */
  async lockModel(tx: Queryable, name: string, create = false): Promise<boolean> {
    if (create) await tx.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
    return (await tx.query('SELECT name FROM models WHERE name = $1 FOR UPDATE', [name])).length > 0;
  },

  async version(q: Queryable, name: string, version: number): Promise<VersionRow | undefined> {
    return (await q.query<VersionRow>(`${VERSION_SELECT} WHERE v.name = $1 AND v.version = $2`, [name, version]))[0];
  },

  async versionBySha(q: Queryable, name: string, sha256: string): Promise<VersionRow | undefined> {
    return (await q.query<VersionRow>(`${VERSION_SELECT} WHERE v.name = $1 AND v.artifact_sha256 = $2`, [name, sha256]))[0];
  },

  async latestVersion(q: Queryable, name: string): Promise<VersionRow | undefined> {
    return (await q.query<VersionRow>(`${VERSION_SELECT} WHERE v.name = $1 ORDER BY v.version DESC LIMIT 1`, [name]))[0];
  },

  /** The latest version of a name in a stage (the only one, for production). */
  async versionInStage(q: Queryable, name: string, stage: StageName): Promise<VersionRow | undefined> {
    return (
      await q.query<VersionRow>(`${VERSION_SELECT} WHERE v.name = $1 AND v.stage = $2 ORDER BY v.version DESC LIMIT 1`, [name, stage])
    )[0];
  },

  async versionByAlias(q: Queryable, name: string, alias: string): Promise<VersionRow | undefined> {
    return (
      await q.query<VersionRow>(
        `${VERSION_SELECT} JOIN model_aliases al ON al.name = v.name AND al.version = v.version WHERE al.name = $1 AND al.alias = $2`,
        [name, alias],
      )
    )[0];
  },

  /** Whether any version of any name uses these bytes. */
  async artifactReferenced(q: Queryable, sha256: string): Promise<boolean> {
    return (await q.query('SELECT 1 FROM model_versions WHERE artifact_sha256 = $1 LIMIT 1', [sha256])).length > 0;
  },

  async nextVersion(tx: Queryable, name: string): Promise<number> {
    const [row] = await tx.query<{ next: number }>('SELECT coalesce(max(version), 0) + 1 AS next FROM model_versions WHERE name = $1', [
      name,
    ]);
    return row.next;
  },

  async insertVersion(tx: Queryable, version: number, v: NewVersion): Promise<void> {
    await tx.query(
      `INSERT INTO model_versions (name, version, description, feature_set_name, feature_set_version, input, output,
         target_kind, target_horizon_sessions, target_description, training_start, training_end, backtest,
         feature_distributions, training_job_id, code_revision, tags, artifact_sha256, artifact_size_bytes, registered_by)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11::date, $12::date, $13::jsonb, $14::jsonb, $15, $16, $17::jsonb, $18, $19, $20)`,
      [
        v.name,
        version,
        v.description,
        v.featureSetName,
        v.featureSetVersion,
        v.input,
        v.output,
        v.targetKind,
        v.targetHorizonSessions,
        v.targetDescription,
        v.trainingStart,
        v.trainingEnd,
        v.backtest,
        v.featureDistributions,
        v.trainingJobId,
        v.codeRevision,
        v.tags,
        v.artifactSha256,
        v.artifactSizeBytes,
        v.registeredBy,
      ],
    );
  },

  /**
   * A page of versions ordered by name ascending, then version descending, after the cursor
   * (the last name and version of the previous page).
   */
  async listVersions(
    q: Queryable,
    filter: VersionFilter,
    after: { name: string; version: number } | undefined,
    limit: number,
  ): Promise<VersionRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.name) where.push(`v.name = ${param(filter.name)}`);
    if (filter.stage) where.push(`v.stage = ${param(filter.stage)}`);
    if (filter.alias)
      where.push(
        `EXISTS (SELECT 1 FROM model_aliases f WHERE f.name = v.name AND f.version = v.version AND f.alias = ${param(filter.alias)})`,
      );
    if (after) {
      const name = param(after.name);
      where.push(`(v.name > ${name} OR (v.name = ${name} AND v.version < ${param(after.version)}))`);
    }
    const clause = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    return q.query<VersionRow>(`${VERSION_SELECT}${clause} ORDER BY v.name, v.version DESC LIMIT ${param(limit)}`, params);
  },

  /** Versions a watcher starts from: in Staging or Production, or holding an alias. */
  async watchedVersions(q: Queryable, name: string | undefined): Promise<VersionRow[]> {
    return q.query<VersionRow>(
      `${VERSION_SELECT} WHERE ($1::text IS NULL OR v.name = $1)
         AND (v.stage IN ('staging', 'production') OR EXISTS (SELECT 1 FROM model_aliases w WHERE w.name = v.name AND w.version = v.version))
       ORDER BY v.name, v.version DESC`,
      [name ?? null],
    );
  },

  async setStage(tx: Queryable, name: string, version: number, stage: StageName): Promise<void> {
    await tx.query('UPDATE model_versions SET stage = $3, stage_changed_at = now() WHERE name = $1 AND version = $2', [
      name,
      version,
      stage,
    ]);
  },

  async markActivationFailed(tx: Queryable, name: string, version: number, reason: string): Promise<void> {
    await tx.query(`UPDATE model_versions SET status = 'activation_failed', status_reason = $3 WHERE name = $1 AND version = $2`, [
      name,
      version,
      reason,
    ]);
  },

  async appendHistory(tx: Queryable, h: NewHistory): Promise<HistoryRow> {
    const [row] = await tx.query<HistoryRow>(
      `INSERT INTO model_history (name, version, kind, from_stage, to_stage, alias, related_version, actor, reason, promotion_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        h.name,
        h.version,
        h.kind,
        h.fromStage ?? null,
        h.toStage ?? null,
        h.alias ?? '',
        h.relatedVersion ?? 0,
        h.actor,
        h.reason ?? '',
        h.promotionId ?? '',
      ],
    );
    return row;
  },

  /** A page of a name's history (optionally one version's), oldest first, after a sequence. */
  async history(q: Queryable, name: string, version: number, afterSequence: number, limit: number): Promise<HistoryRow[]> {
    return q.query<HistoryRow>(
      `SELECT * FROM model_history WHERE name = $1 AND ($2 = 0 OR version = $2) AND sequence > $3 ORDER BY sequence LIMIT $4`,
      [name, version, afterSequence, limit],
    );
  },

  async aliasTarget(tx: Queryable, name: string, alias: string): Promise<number | undefined> {
    return (await tx.query<{ version: number }>('SELECT version FROM model_aliases WHERE name = $1 AND alias = $2', [name, alias]))[0]
      ?.version;
  },

  async setAlias(tx: Queryable, name: string, alias: string, version: number): Promise<void> {
    await tx.query(
      `INSERT INTO model_aliases (name, alias, version) VALUES ($1, $2, $3)
       ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = now()`,
      [name, alias, version],
    );
  },

  async removeAlias(tx: Queryable, name: string, alias: string): Promise<void> {
    await tx.query('DELETE FROM model_aliases WHERE name = $1 AND alias = $2', [name, alias]);
  },

  async insertPromotion(tx: Queryable, p: Omit<PromotionRow, 'state'>): Promise<void> {
    await tx.query(
      'INSERT INTO promotions (promotion_id, name, version, previous_version, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)',
      [p.promotion_id, p.name, p.version, p.previous_version, p.actor, p.reason],
    );
  },

  async promotion(q: Queryable, promotionId: string): Promise<PromotionRow | undefined> {
    return (await q.query<PromotionRow>('SELECT * FROM promotions WHERE promotion_id = $1', [promotionId]))[0];
  },

  /** The latest promotion that put this version into Production, if any. */
  async promotionOf(q: Queryable, name: string, version: number): Promise<PromotionRow | undefined> {
    return (
      await q.query<PromotionRow>('SELECT * FROM promotions WHERE name = $1 AND version = $2 ORDER BY created_at DESC LIMIT 1', [
        name,
        version,
      ])
    )[0];
  },

  /** Ends every open saga of a name: its candidate no longer holds Production through it. */
  async supersedePromotions(tx: Queryable, name: string): Promise<void> {
    await tx.query(`UPDATE promotions SET state = 'superseded', resolved_at = now() WHERE name = $1 AND state IN ('pending', 'active')`, [
      name,
    ]);
  },

  async setPromotionState(
    tx: Queryable,
    promotionId: string,
    state: PromotionState,
    failure?: { instance: string; reason: string },
  ): Promise<void> {
    await tx.query(
      `UPDATE promotions SET state = $2, failed_instance = coalesce($3, failed_instance), failure_reason = coalesce($4, failure_reason),
         resolved_at = CASE WHEN $2 IN ('superseded', 'rolled_back') THEN now() ELSE resolved_at END
       WHERE promotion_id = $1`,
      [promotionId, state, failure?.instance ?? null, failure?.reason ?? null],
    );
  },

  /** Records one instance's answer; false when this instance already answered this promotion. */
  async recordActivation(
    tx: Queryable,
    a: { promotionId: string; instanceId: string; result: 'ok' | 'failed'; reason: string; durationMs: number; reportedAt: Date | null },
  ): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO activations (promotion_id, instance_id, result, reason, duration_ms, reported_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (promotion_id, instance_id) DO NOTHING RETURNING instance_id`,
      [a.promotionId, a.instanceId, a.result, a.reason, a.durationMs, a.reportedAt],
    );
    return rows.length > 0;
  },

  async activations(q: Queryable, promotionId: string): Promise<{ instance_id: string; result: string; reason: string }[]> {
    return q.query('SELECT instance_id, result, reason FROM activations WHERE promotion_id = $1 ORDER BY recorded_at', [promotionId]);
  },

  async enqueueEvent(tx: Queryable, e: { event: string; key: string; msgId: string; payload: Uint8Array }): Promise<void> {
    await tx.query('INSERT INTO event_outbox (event, key, msg_id, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (msg_id) DO NOTHING', [
      e.event,
      e.key,
      e.msgId,
      e.payload,
    ]);
  },

  async unsentEvents(q: Queryable, limit: number): Promise<OutboxRow[]> {
    return q.query<OutboxRow>('SELECT id, event, key, msg_id, payload FROM event_outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1', [
      limit,
    ]);
  },

  async markSent(q: Queryable, id: number): Promise<void> {
    await q.query('UPDATE event_outbox SET sent_at = now() WHERE id = $1', [id]);
  },

  /** Forgets sent events older than the retention (JetStream keeps its own copy). */
  async pruneSent(q: Queryable, olderThanMs: number): Promise<void> {
    await q.query(`DELETE FROM event_outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)`, [
      olderThanMs / 1000,
    ]);
  },
};
