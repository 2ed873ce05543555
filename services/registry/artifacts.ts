import { StorageType, type JetStreamClient, type ObjectStore } from 'nats';

/** Default bucket of model artifacts. */
export const ARTIFACT_BUCKET = 'nepse-models';

/** The store lost or corrupted an artifact the registry had stored (data loss, not bad input). */
export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

/** The NATS digest (`SHA-256=<base64url>`) of a hex sha256. */
function natsDigest(sha256: string): string {
  return `SHA-256=${Buffer.from(sha256, 'hex').toString('base64url')}`;
}

/** Whether a NATS digest names this sha256 (NATS pads base64url with `=`; older clients did not). */
function sameDigest(digest: string, sha256: string): boolean {
  return digest.replace(/=+$/, '') === natsDigest(sha256);
}

/**
 * Model artifacts in a JetStream Object Store bucket, each stored under its sha256 (hex): content
 * addressed, so the same bytes registered under two names are stored once, and a name in the
 * bucket says what the bytes must hash to.
 */
export class ArtifactStore {
  private constructor(private readonly os: ObjectStore) {}

  /** Opens (creating when missing) the bucket, file-backed, with `replicas` copies. */
  static async open(js: JetStreamClient, options: { bucket?: string; replicas: number }): Promise<ArtifactStore> {
    const os = await js.views.os(options.bucket ?? ARTIFACT_BUCKET, {
      description: 'NEPSE model artifacts (ONNX), named by their sha256',
      storage: StorageType.File,
      replicas: options.replicas,
    });
    return new ArtifactStore(os);
  }

  /** Whether the artifact is stored (and not deleted). */
  async has(sha256: string): Promise<boolean> {
    const info = await this.os.info(sha256);
    return info !== null && !info.deleted;
  }

  /**
   * Stores the bytes under their sha256 unless they are there already; answers whether this call
   * wrote them. The digest NATS computed is checked against the sha256 the registry computed.
   */
  async put(sha256: string, bytes: Uint8Array): Promise<{ created: boolean }> {
    if (await this.has(sha256)) return { created: false };
    const info = await this.os.putBlob({ name: sha256, description: 'onnx' }, bytes);
    if (!sameDigest(info.digest, sha256) || info.size !== bytes.byteLength) {
      await this.os.delete(sha256).catch(() => {});
      throw new ArtifactIntegrityError(
        `object store digest ${info.digest} (${info.size} bytes) does not match sha256 ${sha256} (${bytes.byteLength} bytes)`,
      );
    }
    return { created: true };
  }

  /** Removes an artifact (used only to undo a put whose version row was never committed). */
  async delete(sha256: string): Promise<void> {
    if (await this.has(sha256)) await this.os.delete(sha256);
  }

  /**
   * The artifact's bytes as they arrive from the bucket. NATS checks its own digest at the end;
   * either failure ends the iteration with an ArtifactIntegrityError.
   */
  async *read(sha256: string): AsyncIterable<Uint8Array> {
    const result = await this.os.get(sha256);
    if (!result) throw new ArtifactIntegrityError(`artifact ${sha256} is missing from the object store`);
    if (!sameDigest(result.info.digest, sha256))
      throw new ArtifactIntegrityError(`artifact ${sha256} is stored with digest ${result.info.digest}`);
    try {
      for await (const chunk of result.data as unknown as AsyncIterable<Uint8Array>) yield chunk;
    } catch (error) {
      throw new ArtifactIntegrityError(`reading artifact ${sha256} failed: ${(error as Error).message}`);
    }
    const failure = await result.error;
    if (failure) throw new ArtifactIntegrityError(`reading artifact ${sha256} failed: ${failure.message}`);
  }

  /** Names of every stored artifact (tests and operators). */
  async list(): Promise<string[]> {
    return (await this.os.list()).filter((i) => !i.deleted).map((i) => i.name);
  }
}
