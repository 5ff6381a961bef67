import type { FastifyInstance } from 'fastify';
import { registerJsonParser } from './json-body.ts';

/** The embedded formats of REST Proxy v2 produce and consume. */
export type EmbeddedFormat = 'json' | 'binary';

/** The embedded formats whose records are written with a registered schema, in Confluent's wire format. */
export type SchemaFormat = 'avro' | 'jsonschema' | 'protobuf';

export const KAFKA_V2_JSON = 'application/vnd.kafka.v2+json';

const VND_KAFKA = /^application\/vnd\.kafka(\.[a-z]+)?\.v[23]\+json$/i;

/** Parses JSON and the REST Proxy's vendor JSON types with Kappa's checked JSON parser (json-body.ts). */
export function registerContentTypes(app: FastifyInstance, maxJsonDepth: number): void {
  registerJsonParser(app, ['application/json', VND_KAFKA], maxJsonDepth);
}

/** The embedded format a produce request's content type names, or null if it names none we accept. */
export function produceFormat(
  contentType: string | undefined,
): EmbeddedFormat | SchemaFormat | 'unsupported' {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (
    type === 'application/json' ||
    type === 'application/vnd.kafka.json.v2+json' ||
    type === 'application/vnd.kafka.v2+json'
  )
    return 'json';
  if (type === 'application/vnd.kafka.binary.v2+json') return 'binary';
  if (type === 'application/vnd.kafka.avro.v2+json') return 'avro';
  if (type === 'application/vnd.kafka.jsonschema.v2+json') return 'jsonschema';
  if (type === 'application/vnd.kafka.protobuf.v2+json') return 'protobuf';
  return 'unsupported';
}
