import { afterAll, describe } from 'vitest';
import { FolderStore, S3Store } from '../../src/storage/index.ts';
import { type S3Server, s3Available, startS3 } from '../support/s3.ts';
import { tempDir } from '../support/temp-dir.ts';
import { objectStoreContract } from './object-store-contract.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

objectStoreContract('a folder', async () => {
  const { dir, remove } = await tempDir('kappa-objects-');
  cleanups.push(remove);
  return FolderStore.open(dir);
});

describe.runIf(s3Available())('on S3Proxy', () => {
  let server: S3Server;
  objectStoreContract('S3 (S3Proxy, filesystem backend)', async () => {
    server = await startS3();
    cleanups.push(() => server.stop());
    return new S3Store({
      bucket: server.bucket,
      prefix: 'kappa/',
      region: 'us-east-1',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: server.credentials,
    });
  });
});
