import { parentPort, workerData } from 'node:worker_threads';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeParquet } from './parquet-encode.ts';
import { unpackRecords } from './record-pack.ts';

/**
 * A worker thread of ParquetFiles: it encodes archive files with a DuckDB of its own. DuckDB's
 * appender runs synchronously on the thread that calls it, so here it holds up no event loop that
 * serves requests, and several files are encoded at once.
 */
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const connection = await db.connect();
const { dir } = workerData as { dir: string };

parentPort!.postMessage({ ready: true });
parentPort!.on('message', async (records: ArrayBuffer) => {
  try {
    const file = await encodeParquet(connection, dir, unpackRecords(records, ''));
    const body = file.buffer.slice(file.byteOffset, file.byteOffset + file.length);
    parentPort!.postMessage({ body }, [body as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  }
});
