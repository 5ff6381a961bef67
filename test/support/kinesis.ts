import { existsSync } from 'node:fs';
import path from 'node:path';
import { type KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../../src/ingest/kinesis/kinesis-client.ts';
import { freePort } from './net.ts';
import { startServerProcess } from './server-process.ts';
import { serviceAvailable } from './services.ts';

const MAIN = path.join(import.meta.dirname, '..', '..', 'node_modules', 'kinesis-local', 'main.js');

/** kinesis-local (etspaceman's kinesis-mock, from npm): a Kinesis API on 127.0.0.1. */
export function kinesisAvailable(): boolean {
  return serviceAvailable('Kinesis', [
    [process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(MAIN)})`],
  ]).available;
}

export interface KinesisServer {
  endpoint: string;
  client: KinesisClient;
  /** What a Kappa config's Kinesis section needs to reach it. */
  options: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  stop(): Promise<void>;
}

export async function startKinesis(): Promise<KinesisServer> {
  if (!existsSync(MAIN)) throw new Error('kinesis-local is not installed (npm ci)');
  const port = await freePort();
  const tls = await freePort();
  const server = startServerProcess(process.execPath, [MAIN], {
    cwd: path.dirname(MAIN),
    env: {
      ...process.env,
      KINESIS_MOCK_PLAIN_PORT: String(port),
      KINESIS_MOCK_TLS_PORT: String(tls),
      CREATE_STREAM_DURATION: '50ms',
      SPLIT_SHARD_DURATION: '50ms',
      MERGE_SHARDS_DURATION: '50ms',
      UPDATE_SHARD_COUNT_DURATION: '50ms',
      LOG_LEVEL: 'WARN',
    },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const options = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'kappa', secretAccessKey: 'kappa' },
  };
  const client = kinesisClient({
    endpoint,
    region: options.region,
    credentials: options.credentials,
  });
  const stop = async () => {
    client.destroy();
    await server.stop();
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.send(new ListStreamsCommand({}));
      break;
    } catch {
      if (server.child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`kinesis-local did not start on port ${port}:\n${server.log()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { endpoint, client, options, stop };
}
