import { ConfigError } from '../core/index.ts';
import type { KappaConfigInput } from './schema.ts';

type BusInput = NonNullable<KappaConfigInput['bus']>;
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/**
 * The bus as one string, for `--bus` and KAPPA_BUS: `embedded`, or
 * `kafka://[user:password@]host:port[,host:port...][?sasl=SCRAM-SHA-512&tls=true&compression=lz4]`.
 * A user and password without `sasl=` mean SASL PLAIN.
 */
export function parseBusUrl(text: string): BusInput {
  if (text === 'embedded') return { kind: 'embedded' };
  const match = /^kafka:\/\/(?:([^:@/]*):([^@/]*)@)?([^/?]+)\/?(?:\?(.*))?$/.exec(text);
  if (!match) {
    throw new ConfigError(
      `--bus must be 'embedded' or kafka://[user:password@]host:port[,host:port][?sasl=…&tls=true], got '${text}'`,
    );
  }
  const [, user, password, hosts, query] = match;
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (!['sasl', 'tls', 'compression', 'clientId'].includes(key))
      throw new ConfigError(`--bus: unknown parameter '${key}' (known: sasl, tls, compression, clientId)`);
  }
  const bus: BusInput = { kind: 'kafka', brokers: hosts!.split(',').filter(Boolean) };
  const mechanism = params.get('sasl') ?? (user ? 'PLAIN' : null);
  if (mechanism !== null) {
    if (!MECHANISMS.includes(mechanism as (typeof MECHANISMS)[number]))
      throw new ConfigError(`--bus: sasl must be one of ${MECHANISMS.join(', ')}, got '${mechanism}'`);
    if (!user) throw new ConfigError('--bus: sasl needs user:password@ before the hosts');
    bus.sasl = {
      mechanism: mechanism as (typeof MECHANISMS)[number],
      username: decodeURIComponent(user),
      password: decodeURIComponent(password ?? ''),
    };
  }
  if (params.has('tls')) bus.tls = params.get('tls') === 'true';
  const compression = params.get('compression');
  if (compression !== null)
    bus.compression = compression as NonNullable<Extract<BusInput, { kind: 'kafka' }>['compression']>;
  const clientId = params.get('clientId');
  if (clientId !== null) bus.clientId = clientId;
  return bus;
}
