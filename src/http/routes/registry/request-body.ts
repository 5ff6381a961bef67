import {
  RegistryErrors,
  SCHEMA_TYPES,
  type SchemaDefinition,
  type SchemaReference,
  type SchemaType,
} from '../../../registry/index.ts';

/** The body of register, lookup and compatibility requests, checked as Confluent checks it. */
export interface SchemaRequest {
  definition: SchemaDefinition;
  id?: number;
  version?: number;
}

export function parseSchemaRequest(body: unknown): SchemaRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw RegistryErrors.invalidSchema('the request body must be a JSON object with a "schema" field');
  const b = body as Record<string, unknown>;
  if (typeof b.schema !== 'string' || b.schema.trim() === '')
    throw RegistryErrors.invalidSchema('Empty schema: the "schema" field must be a non-empty string');
  const schemaType = (b.schemaType ?? 'AVRO') as SchemaType;
  if (!SCHEMA_TYPES.includes(schemaType))
    throw RegistryErrors.invalidSchema(
      `unknown schemaType ${JSON.stringify(b.schemaType)}: use one of ${SCHEMA_TYPES.join(', ')}`,
    );
  const request: SchemaRequest = {
    definition: { schemaType, schema: b.schema, references: parseReferences(b.references) },
  };
  if (b.id !== undefined && b.id !== null) request.id = integer(b.id, 'id');
  if (b.version !== undefined && b.version !== null) request.version = integer(b.version, 'version');
  return request;
}

function parseReferences(value: unknown): SchemaReference[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw RegistryErrors.invalidSchema('"references" must be an array');
  return value.map((r, i) => {
    const ref = r as Partial<SchemaReference> | null;
    if (
      typeof ref !== 'object' ||
      ref === null ||
      typeof ref.name !== 'string' ||
      ref.name === '' ||
      typeof ref.subject !== 'string' ||
      ref.subject === '' ||
      !Number.isInteger(ref.version) ||
      (ref.version! < 1 && ref.version !== -1)
    )
      throw RegistryErrors.invalidSchema(
        `references[${i}] must be {"name": string, "subject": string, "version": a version number or -1}`,
      );
    return { name: ref.name, subject: ref.subject, version: ref.version! };
  });
}

function integer(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value)) throw RegistryErrors.invalidSchema(`"${field}" must be an integer`);
  return value as number;
}
