import { describe, expect, it } from 'vitest';
import { loadConfig, parseBusUrl } from '../../src/config/index.ts';
import { ConfigError } from '../../src/core/index.ts';
import { useTempDir } from '../support/temp-dir.ts';

describe('the bus as a URL (--bus, KAPPA_BUS)', () => {
  it('reads brokers, SASL credentials and options', () => {
    expect(parseBusUrl('embedded')).toEqual({ kind: 'embedded' });
    expect(parseBusUrl('kafka://b1:9092,b2:9093')).toEqual({
      kind: 'kafka',
      brokers: ['b1:9092', 'b2:9093'],
    });
    expect(
      parseBusUrl('kafka://alice:p%40ss@b1:9092?sasl=SCRAM-SHA-512&tls=true&compression=lz4&clientId=etl'),
    ).toEqual({
      kind: 'kafka',
      brokers: ['b1:9092'],
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'p@ss' },
      tls: true,
      compression: 'lz4',
      clientId: 'etl',
    });
    expect(parseBusUrl('kafka://bob:secret@b1:9092')).toMatchObject({
      sasl: { mechanism: 'PLAIN', username: 'bob', password: 'secret' },
    });
  });

  it('rejects what it cannot read with a ConfigError that says what it expects', () => {
    for (const bad of [
      'kafka:/b1:9092',
      'redis://x:1',
      'kafka://',
      'kafka://b1:9092?sasl=GSSAPI',
      'kafka://b1:9092?sasl=PLAIN',
      'kafka://b1:9092?colour=blue',
    ]) {
      expect(() => parseBusUrl(bad), bad).toThrow(ConfigError);
    }
  });
});

describe('the bus in the config', () => {
  const temp = useTempDir();

  it('defaults to the embedded log; --bus replaces the whole bus section of the file', async () => {
    expect((await loadConfig({ cwd: temp.dir })).config.bus).toEqual({ kind: 'embedded' });
    const { config } = await loadConfig({ cwd: temp.dir, bus: 'kafka://k1:9092' });
    expect(config.bus).toMatchObject({
      kind: 'kafka',
      brokers: ['k1:9092'],
      compression: 'none',
      replicationFactor: -1,
      timeoutMs: 5000,
    });
  });

  it('names the field that is wrong', async () => {
    await expect(
      loadConfig({ cwd: temp.dir, overrides: { bus: { kind: 'kafka', brokers: [] } } }),
    ).rejects.toThrow(/bus\.brokers/);
    await expect(
      loadConfig({
        cwd: temp.dir,
        overrides: {
          bus: {
            kind: 'kafka',
            brokers: ['k:1'],
            sasl: { mechanism: 'GSSAPI' as never, username: 'u', password: 'p' },
          },
        },
      }),
    ).rejects.toThrow(/bus\.sasl\.mechanism/);
    await expect(
      loadConfig({ cwd: temp.dir, overrides: { bus: { kind: 'pulsar' as never } } }),
    ).rejects.toThrow(ConfigError);
  });
});
