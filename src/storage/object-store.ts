/**
 * The ObjectStore contract: where the archive keeps its files, the same for a folder on this
 * machine (the embedded default) and S3 (or anything that speaks its API). test/storage/
 * object-store-contract.ts is the one suite every implementation passes.
 *
 * - `put` is atomic: a reader sees the whole object or none of it, never a part (the folder writes a
 *   temporary file and renames it; S3's PUT is atomic);
 * - `list` returns every key under a prefix, in byte order of the keys, however many there are;
 * - keys are `/`-separated paths of letters, digits and `._=-`: no empty segments, no `.` or `..`.
 */
export interface ObjectStore {
  /** 'folder' or 's3': for messages, never for behaviour. */
  readonly kind: string;
  put(key: string, body: Buffer): Promise<void>;
  /** Throws ObjectNotFoundError for a key with no object. */
  get(key: string): Promise<Buffer>;
  /** The object's size, or null when there is none. */
  head(key: string): Promise<{ size: number } | null>;
  list(prefix: string): Promise<Array<{ key: string; size: number }>>;
  /** Deletes the object if there is one. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}
