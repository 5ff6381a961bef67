import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll } from 'vitest';
import { FolderStore, type ObjectStore, S3Store } from '../../src/storage/index.ts';
import { ensureJars, javaAvailable, javaLibs } from './java.ts';
import { freePort } from './net.ts';
import { startServerProcess } from './server-process.ts';
import { tempDir } from './temp-dir.ts';

export const s3Available = (): boolean => javaAvailable('S3Proxy');

export interface S3Server {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

/** S3Proxy with its filesystem backend on a free port, with one bucket made. */
export async function startS3(): Promise<S3Server> {
  await ensureJars('s3proxy', 's3proxy-');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-s3-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'kappa', secretAccessKey: 'kappa-secret' };
  const properties = path.join(dir, 's3proxy.conf');
  await writeFile(
    properties,
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${credentials.accessKeyId}`,
      `s3proxy.credential=${credentials.secretAccessKey}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${path.join(dir, 'data')}`,
    ].join('\n'),
  );
  const server = startServerProcess('java', [
    '-cp',
    `${javaLibs('s3proxy')}/*`,
    'org.gaul.s3proxy.Main',
    '--properties',
    properties,
  ]);
  const stop = async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (!(await listening(port))) {
    if (server.child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`S3Proxy did not start on port ${port}:\n${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const bucket = 'kappa-test';
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...credentials },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return { endpoint, bucket, credentials, stop };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The object stores a suite runs on: a folder, and S3 on an S3Proxy started the first time a store
 * is asked for (once per test file, stopped after it), each store under a prefix of its own. S3 is
 * left out where S3Proxy cannot run (an error under KAPPA_REQUIRE_SERVICES=1).
 */
export function objectStores(): Array<[name: string, open: () => Promise<ObjectStore>]> {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  let server: Promise<S3Server> | null = null;
  const folder = async () => {
    const { dir, remove } = await tempDir('kappa-objects-');
    cleanups.push(remove);
    return FolderStore.open(dir);
  };
  const s3 = async () => {
    if (!server) {
      server = startS3();
      cleanups.push(async () => (await server!).stop());
    }
    const { bucket, endpoint, credentials } = await server;
    return new S3Store({
      bucket,
      prefix: `t${Math.random().toString(36).slice(2, 8)}/`,
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials,
    });
  };
  return [['a folder', folder], ...(s3Available() ? [['S3 (S3Proxy)', s3] as [string, typeof s3]] : [])];
}
