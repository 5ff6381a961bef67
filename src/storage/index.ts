export { FolderStore } from './folder-store.ts';
export { checkKey, checkPrefix } from './object-key.ts';
export type { ObjectStore } from './object-store.ts';
export { S3Store, type S3StoreOptions } from './s3-store.ts';
export { ObjectNotFoundError, ObjectStoreError } from './storage-errors.ts';
