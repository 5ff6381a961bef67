import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { checkKey, checkPrefix } from './object-key.ts';
import type { ObjectStore } from './object-store.ts';
import { ObjectNotFoundError, ObjectStoreError } from './storage-errors.ts';

export interface S3StoreOptions {
  bucket: string;
  /** Keys start with this (`kappa/`), so one bucket can hold several things. Default none. */
  prefix?: string;
  region: string;
  /** An S3-compatible server (`http://127.0.0.1:9000`); default AWS's. */
  endpoint?: string;
  /** Bucket in the path (`endpoint/bucket/key`), as most S3-compatible servers want. */
  forcePathStyle?: boolean;
  /** Default: the AWS SDK's chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Objects in an S3 bucket (or an S3-compatible server's), with @aws-sdk/client-s3. */
export class S3Store implements ObjectStore {
  readonly kind = 's3';
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3StoreOptions) {
    this.#client = new S3Client({
      requestHandler: new NodeHttpHandler(),
      region: options.region,
      // Checksums only where S3 requires them: the SDK's default (CRC32 trailers on every upload)
      // is not understood by every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle ? { forcePathStyle: true } : {}),
      // A copy: the SDK marks the object it is given.
      ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    });
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? '';
  }

  async put(key: string, body: Buffer): Promise<void> {
    checkKey(key);
    await this.#call(key, () =>
      this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Body: body })),
    );
  }

  async get(key: string): Promise<Buffer> {
    checkKey(key);
    return this.#call(key, async () => {
      const answer = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
      return Buffer.from(await answer.Body!.transformToByteArray());
    });
  }

  async head(key: string): Promise<{ size: number } | null> {
    checkKey(key);
    try {
      const answer = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
      return { size: answer.ContentLength ?? 0 };
    } catch (error) {
      if (missing(error)) return null;
      throw new ObjectStoreError(
        `Cannot look up ${key} in s3://${this.#bucket}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    checkPrefix(prefix);
    const out: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.#call(prefix || '/', () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      // Keys ending in "/" are never Kappa's (no empty parts): S3Proxy's filesystem backend lists
      // its folders so, and consoles make such "folder" objects.
      for (const o of page.Contents ?? [])
        if (!o.Key!.endsWith('/')) out.push({ key: o.Key!.slice(this.#prefix.length), size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#call(key, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key })),
    );
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  async #call<T>(key: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (missing(error)) throw new ObjectNotFoundError(key);
      throw new ObjectStoreError(`s3://${this.#bucket}/${this.#prefix}${key}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function missing(error: unknown): boolean {
  if ((error as Error).name === 'NoSuchBucket') return false;
  return (
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  );
}
