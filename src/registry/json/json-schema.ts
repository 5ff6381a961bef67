import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { RecordInvalidError, RegistryErrors } from '../errors.ts';
import {
  flattenReferences,
  type ParsedSchema,
  type ResolvedReference,
  type SchemaCodec,
  type SchemaProvider,
} from '../schema.ts';
import { parseSchemaJson } from '../schema-json.ts';
import { describeJsonDifference } from './json-messages.ts';
import { COMPATIBLE_JSON_CHANGES, jsonSchemaDiff, sortKeys } from './json-schema-diff.ts';
import { type JsonDocument, type JsonNode, loadJsonSchema } from './json-schema-model.ts';

/** A JSON Schema with its references: ajv validates values, the model answers compatibility. */
export class JsonSchema implements ParsedSchema {
  readonly type = 'JSON' as const;
  /** Compact JSON in the key order it was written, as Confluent stores it. */
  readonly canonical: string;
  readonly json: unknown;
  readonly #documents: JsonDocument[];
  #node: JsonNode | undefined;
  #validate: ValidateFunction | undefined;

  constructor(json: unknown, references: readonly ResolvedReference[]) {
    this.json = json;
    this.canonical = JSON.stringify(json);
    this.#documents = flattenReferences(references).map((r) => ({
      name: r.name,
      json: parseSchemaJson(r.schema, 'JSON'),
    }));
    // Build both now, so a schema that cannot be used is refused when it is registered.
    this.#node = loadJsonSchema({ name: '', json }, this.#documents);
    this.#validate = compile(json, this.#documents);
  }

  get node(): JsonNode {
    this.#node ??= loadJsonSchema({ name: '', json: this.json }, this.#documents);
    return this.#node;
  }

  /** Keys sorted at every level, as Confluent's normalize does. */
  normalized(): string {
    return JSON.stringify(sortKeys(this.json));
  }

  isBackwardCompatible(previous: ParsedSchema): string[] {
    if (!(previous instanceof JsonSchema)) return ['Incompatible because of different schema type'];
    return jsonSchemaDiff(previous.node, this.node)
      .filter((d) => !COMPATIBLE_JSON_CHANGES.has(d.type))
      .map(describeJsonDifference);
  }

  codec(): SchemaCodec {
    return {
      encode: (value) => {
        this.validate(value);
        return { payload: Buffer.from(JSON.stringify(value)) };
      },
      decode: (payload) => {
        try {
          return JSON.parse(
            Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'),
          );
        } catch (error) {
          throw new RecordInvalidError(`$ is not JSON: ${(error as Error).message}`, '$', error);
        }
      },
      fromJson: (json) => json,
    };
  }

  /** Throws RecordInvalidError naming where in the value the first violation is. */
  validate(value: unknown): void {
    this.#validate ??= compile(this.json, this.#documents);
    if (this.#validate(value)) return;
    const error = this.#validate.errors?.[0];
    const path = `$${(error?.instancePath ?? '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
    const detail =
      error?.keyword === 'additionalProperties'
        ? `has a property '${(error.params as { additionalProperty: string }).additionalProperty}' the schema does not allow`
        : (error?.message ?? 'does not match the schema');
    throw new RecordInvalidError(`${path} ${detail}`, path);
  }
}

export const jsonSchemaProvider: SchemaProvider = {
  type: 'JSON',
  parse(text, references) {
    const json = parseSchemaJson(text, 'JSON');
    if (typeof json !== 'boolean' && (typeof json !== 'object' || json === null || Array.isArray(json)))
      throw RegistryErrors.invalidSchema('JSON Schema: the schema must be a JSON object or a boolean');
    return new JsonSchema(json, references);
  },
};

/** Compiles with the draft the schema names: 2020-12 and 2019-09 by their own classes, draft-07 (and -06) otherwise. */
function compile(json: unknown, documents: readonly JsonDocument[]): ValidateFunction {
  try {
    return compileWith(json, documents, false);
  } catch (error) {
    if (!(error instanceof RangeError))
      throw RegistryErrors.invalidSchema(`JSON Schema: ${(error as Error).message}`, error);
  }
  // ajv nests one `if` per property when it stops at the first error, and its code generator recurses
  // through them: a few thousand properties overflow the stack. Collecting all errors generates flat
  // code, so wide schemas compile that way.
  try {
    return compileWith(json, documents, true);
  } catch (error) {
    const reason =
      error instanceof RangeError
        ? 'the schema is too large to compile a validator for'
        : (error as Error).message;
    throw RegistryErrors.invalidSchema(`JSON Schema: ${reason}`, error);
  }
}

function compileWith(
  json: unknown,
  documents: readonly JsonDocument[],
  allErrors: boolean,
): ValidateFunction {
  const draft =
    typeof json === 'object' && json !== null ? String((json as { $schema?: unknown }).$schema ?? '') : '';
  const options = { strict: false, allErrors, validateSchema: true, unicodeRegExp: false } as const;
  const ajv = draft.includes('2020-12')
    ? new Ajv2020(options)
    : draft.includes('2019-09')
      ? new Ajv2019(options)
      : new Ajv(options);
  addFormats.default(ajv);
  // ajv has no draft-04: such schemas (and draft-04's `id`, which Confluent accepts in any draft) are
  // validated as draft-07, which differs only in rarely used keywords.
  const strip = (schema: unknown) => withoutDraft4(schema, draft.includes('draft-04'));
  for (const doc of documents) ajv.addSchema(strip(doc.json) as object, doc.name);
  return ajv.compile(strip(json) as object);
}

const SCHEMA_MAPS = [
  'properties',
  'patternProperties',
  'definitions',
  '$defs',
  'dependencies',
  'dependentSchemas',
];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'items', 'prefixItems'];
const SCHEMA_VALUES = [
  'items',
  'additionalItems',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
];

/** A copy without draft-04's `id` keyword (and the `$schema` line when it names draft-04). */
function withoutDraft4(schema: unknown, dropSchemaLine: boolean): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const out: Record<string, unknown> = { ...(schema as Record<string, unknown>) };
  if (typeof out.id === 'string') delete out.id;
  if (dropSchemaLine) delete out.$schema;
  const walk = (value: unknown) => withoutDraft4(value, false);
  for (const key of SCHEMA_MAPS) {
    const map = out[key];
    if (typeof map === 'object' && map !== null && !Array.isArray(map))
      out[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, Array.isArray(v) ? v : walk(v)]));
  }
  for (const key of SCHEMA_LISTS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(walk);
  for (const key of SCHEMA_VALUES) if (key in out && !Array.isArray(out[key])) out[key] = walk(out[key]);
  return out;
}
