import { parentPort } from 'node:worker_threads';
import { encodeParquet } from './parquet-encode.ts';
import { unpackColumns } from './record-pack.ts';

/**
 * A worker thread of ParquetFiles: encoding and compressing a file is a few hundred milliseconds of
 * CPU, which here holds up no event loop that serves requests, and several files are encoded at once.
 */
parentPort!.postMessage({ ready: true });
parentPort!.on('message', (records: ArrayBuffer) => {
  try {
    const body = encodeParquet(unpackColumns(records));
    parentPort!.postMessage({ body }, [body]);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  }
});
