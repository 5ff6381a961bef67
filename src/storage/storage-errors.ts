import { ErrorCodes, KappaError, type KappaErrorOptions } from '../core/index.ts';

/** The object store failed to read or write (a disk, the network, S3): worth retrying. */
export class ObjectStoreError extends KappaError {
  constructor(message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.OBJECT_STORE, 'external', message, options);
  }
}

/** No object under the key. */
export class ObjectNotFoundError extends KappaError {
  readonly key: string;
  constructor(key: string) {
    super(ErrorCodes.OBJECT_NOT_FOUND, 'user', `No object ${key} in the object store`);
    this.key = key;
  }
}
