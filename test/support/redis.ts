import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from './net.ts';
import { startServerProcess } from './server-process.ts';
import { serviceAvailable } from './services.ts';

const run = promisify(execFile);

export function redisAvailable(): boolean {
  return serviceAvailable('Redis', [['redis-server', '--version']]).available;
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** `redis-server` on a free port on 127.0.0.1, keeping nothing on disk. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const server = startServerProcess(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    { keep: 10_000 },
  );
  const stop = () => server.stop(5000);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
      if (stdout.trim() === 'PONG') break;
    } catch {}
    if (server.child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}:\n${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
