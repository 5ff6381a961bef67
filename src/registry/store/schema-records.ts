import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from '../compatibility.ts';
import type { SchemaReference, SchemaType } from '../schema.ts';

/**
 * The records of the `_schemas` topic, byte for byte as Confluent's registry writes them (JSON keys
 * and values, Jackson's field order), so Kappa reads a topic Confluent wrote and the other way round.
 */
export type SchemaRecord =
  | { kind: 'SCHEMA'; subject: string; version: number; value: SchemaValue | null }
  | { kind: 'CONFIG'; subject: string | null; value: { compatibilityLevel: CompatibilityLevel } | null }
  | { kind: 'MODE'; subject: string | null; value: { mode: Mode } | null }
  | { kind: 'DELETE_SUBJECT'; subject: string; value: { subject: string; version: number } | null }
  | { kind: 'CLEAR_SUBJECT'; subject: string; value: { subject: string } | null }
  | { kind: 'NOOP' };

export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];

export interface SchemaValue {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  references: SchemaReference[];
  schema: string;
  deleted: boolean;
}

export function encodeKey(record: SchemaRecord): Buffer {
  switch (record.kind) {
    case 'SCHEMA':
      return json({ keytype: 'SCHEMA', subject: record.subject, version: record.version, magic: 1 });
    case 'NOOP':
      return json({ keytype: 'NOOP', magic: 0 });
    default:
      // Confluent's Jackson settings leave out a null subject: the global config is {"keytype":"CONFIG","magic":0}.
      return record.subject === null
        ? json({ keytype: record.kind, magic: 0 })
        : json({ keytype: record.kind, subject: record.subject, magic: 0 });
  }
}

export function encodeValue(record: SchemaRecord): Buffer | null {
  if (record.kind === 'NOOP' || record.value === null) return null;
  switch (record.kind) {
    case 'SCHEMA': {
      const v = record.value;
      // Confluent leaves out schemaType for Avro and references when there are none.
      return json({
        subject: v.subject,
        version: v.version,
        id: v.id,
        schema: v.schema,
        deleted: v.deleted,
        ...(v.schemaType === 'AVRO' ? {} : { schemaType: v.schemaType }),
        ...(v.references.length === 0 ? {} : { references: v.references }),
      });
    }
    case 'CONFIG':
    case 'MODE':
      return json(record.subject === null ? record.value : { subject: record.subject, ...record.value });
    default:
      return json(record.value);
  }
}

/** Why a record of the topic was skipped; the registry logs it and goes on. */
export class SkippedRecord {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/** Reads one record of the topic; records of kinds Kappa does not use (contexts, NOOP) decode to NOOP. */
export function decodeRecord(key: Buffer | null, value: Buffer | null): SchemaRecord | SkippedRecord {
  if (key === null) return new SkippedRecord('a record without a key');
  const k = parse(key);
  if (k === undefined || k === null || typeof k.keytype !== 'string')
    return new SkippedRecord(`an unreadable key ${clip(key)}`);
  const v = value === null ? null : parse(value);
  if (v === undefined) return new SkippedRecord(`an unreadable value for key ${clip(key)}`);
  // The global config and mode come as a key without subject, with "subject":null (older registries,
  // Karapace) or with the subject ':.__GLOBAL:' (Confluent 8).
  const subject = typeof k.subject === 'string' && k.subject !== GLOBAL_SUBJECT ? k.subject : null;
  switch (k.keytype) {
    case 'SCHEMA': {
      if (subject === null || !isVersion(k.version))
        return new SkippedRecord(`a schema key without subject or version ${clip(key)}`);
      if (v === null) return { kind: 'SCHEMA', subject, version: k.version, value: null };
      const schemaType = (v.schemaType ?? 'AVRO') as SchemaType;
      if (
        typeof v.schema !== 'string' ||
        !isVersion(v.id) ||
        !['AVRO', 'JSON', 'PROTOBUF'].includes(schemaType)
      )
        return new SkippedRecord(`a schema value without schema text, id or known type ${clip(value!)}`);
      return {
        kind: 'SCHEMA',
        subject,
        version: k.version,
        value: {
          subject,
          version: k.version,
          id: v.id,
          schemaType,
          references: Array.isArray(v.references) ? (v.references as SchemaReference[]) : [],
          schema: v.schema,
          deleted: v.deleted === true,
        },
      };
    }
    case 'CONFIG': {
      if (v === null) return { kind: 'CONFIG', subject, value: null };
      const level = v.compatibilityLevel ?? v.compatibility;
      if (!COMPATIBILITY_LEVELS.includes(level as CompatibilityLevel))
        return new SkippedRecord(`a config with an unknown compatibility level ${clip(value!)}`);
      return { kind: 'CONFIG', subject, value: { compatibilityLevel: level as CompatibilityLevel } };
    }
    case 'MODE':
      if (v === null) return { kind: 'MODE', subject, value: null };
      if (!MODES.includes(v.mode as Mode))
        return new SkippedRecord(`a mode record with an unknown mode ${clip(value!)}`);
      return { kind: 'MODE', subject, value: { mode: v.mode as Mode } };
    case 'DELETE_SUBJECT':
      if (subject === null) return new SkippedRecord(`a subject deletion without subject ${clip(key)}`);
      return {
        kind: 'DELETE_SUBJECT',
        subject,
        value: v === null || !isVersion(v.version) ? null : { subject, version: v.version },
      };
    case 'CLEAR_SUBJECT':
      if (subject === null) return new SkippedRecord(`a subject clearing without subject ${clip(key)}`);
      return { kind: 'CLEAR_SUBJECT', subject, value: v === null ? null : { subject } };
    default:
      return { kind: 'NOOP' };
  }
}

const GLOBAL_SUBJECT = ':.__GLOBAL:';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function parse(bytes: Buffer): Record<string, unknown> | null | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const isVersion = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
const clip = (bytes: Buffer) => JSON.stringify(bytes.toString('utf8', 0, Math.min(bytes.length, 200)));
