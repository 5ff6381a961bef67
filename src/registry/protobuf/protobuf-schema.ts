import protobuf from 'protobufjs';
import { RegistryErrors } from '../errors.ts';
import {
  flattenReferences,
  type ParsedSchema,
  type ResolvedReference,
  type SchemaCodec,
  type SchemaProvider,
} from '../schema.ts';
import { COMPATIBLE_PROTO_CHANGES, type ProtoDifference, protoDiff } from './proto-diff.ts';
import { type ProtoFile, type ProtoMessage, parseProtoFile, WELL_KNOWN } from './proto-file.ts';
import { formatProto } from './proto-format.ts';
import { looksSerialized, protoFromDescriptor } from './proto-from-descriptor.ts';
import { TypeTable } from './proto-types.ts';
import { protobufCodec } from './protobuf-codec.ts';

/**
 * A Protobuf schema file with its imports (the references, named by import path). protobufjs parses,
 * resolves and encodes; the file model answers compatibility and message indexes.
 */
export class ProtobufSchema implements ParsedSchema {
  readonly type = 'PROTOBUF' as const;
  readonly canonical: string;
  readonly file: ProtoFile;
  readonly table: TypeTable;
  /** Every type of the schema and its imports, resolved, for encoding and decoding. */
  readonly root: protobuf.Root;
  #codec: SchemaCodec | undefined;

  constructor(written: string, references: readonly ResolvedReference[]) {
    // Confluent's Go and .NET serializers register a serialized FileDescriptorProto, in base64.
    const text = looksSerialized(written) ? protoFromDescriptor(written) : written;
    for (const source of [text, ...references.map((r) => r.schema)]) checkSize(source);
    const dependencies = flattenReferences(references).map((r) => ({
      r,
      ...parseProtoFile(r.schema, r.name),
    }));
    const { file } = parseProtoFile(text, '');
    this.file = file;
    // An import must be a reference or a well-known type: nothing is ever read from disk, and a schema
    // that names a file nobody registered could not be decoded by anyone.
    const importable = new Set([...dependencies.map((d) => d.r.name), ...Object.keys(WELL_KNOWN)]);
    for (const source of [file, ...dependencies.map((d) => d.file)])
      for (const imported of source.imports)
        if (!importable.has(imported))
          throw RegistryErrors.invalidSchema(
            `Protobuf: import "${imported}" is neither a reference of this schema nor a well-known type: register that file and name it in "references"`,
          );
    this.table = new TypeTable(
      file,
      dependencies.map((d) => ({
        file: d.file,
        subject: d.r.subject ?? d.r.name,
        version: d.r.version ?? 0,
      })),
    );
    this.root = new protobuf.Root();
    const given = new Set(dependencies.map((d) => d.r.name));
    try {
      for (const [name, json] of Object.entries(WELL_KNOWN))
        if (!given.has(name) && json.nested) this.root.addJSON(json.nested);
      for (const d of dependencies) protobuf.parse(d.r.schema, this.root, { keepCase: true });
      protobuf.parse(text, this.root, { keepCase: true });
    } catch (error) {
      throw RegistryErrors.invalidSchema(`Protobuf: ${(error as Error).message}`, error);
    }
    const missing = this.table.unresolved();
    if (missing) throw RegistryErrors.invalidSchema(`Protobuf: could not resolve type ${missing}`);
    try {
      this.root.resolveAll();
    } catch (error) {
      throw RegistryErrors.invalidSchema(`Protobuf: ${(error as Error).message}`, error);
    }
    this.canonical = formatProto(file, this.table);
  }

  normalized(): string {
    return formatProto(this.file, this.table, true);
  }

  isBackwardCompatible(previous: ParsedSchema): string[] {
    if (!(previous instanceof ProtobufSchema)) return ['Incompatible because of different schema type'];
    return protoDiff(previous.table, this.table)
      .filter((d) => !COMPATIBLE_PROTO_CHANGES.has(d.type))
      .map(describe);
  }

  /** The message a serializer uses by default: the first one in the file. */
  firstMessage(): string {
    const first = this.file.messages[0];
    if (!first) throw RegistryErrors.invalidSchema('Protobuf: the schema defines no message');
    return first.fullName;
  }

  /** Where a message is in the file, as Confluent's message indexes say it: [1, 0] is the first nested message of the second. */
  indexesOf(fullName: string): number[] {
    const local = this.file.package
      ? fullName.replace(new RegExp(`^${escapeRegExp(this.file.package)}\\.`), '')
      : fullName;
    const indexes: number[] = [];
    let level = this.file.messages;
    for (const part of local.split('.')) {
      const i = level.findIndex((m) => m.name === part);
      if (i < 0) throw RegistryErrors.invalidSchema(`Protobuf: no message ${fullName} in the schema`);
      indexes.push(i);
      level = level[i]!.messages;
    }
    return indexes;
  }

  /** The message the indexes point to, or undefined if they point nowhere. */
  messageAt(indexes: readonly number[]): string | undefined {
    let level: ProtoMessage[] = this.file.messages;
    let found: ProtoMessage | undefined;
    for (const i of indexes) {
      found = level[i];
      if (!found) return undefined;
      level = found.messages;
    }
    return found?.fullName;
  }

  codec(): SchemaCodec {
    this.#codec ??= protobufCodec(this);
    return this.#codec;
  }

  lookup(fullName: string): protobuf.Type {
    return this.root.lookupType(fullName);
  }
}

export const protobufProvider: SchemaProvider = {
  type: 'PROTOBUF',
  parse(text, references) {
    return new ProtobufSchema(text, references);
  },
};

/**
 * protobufjs adds each field in time proportional to the fields already there, so a schema with tens
 * of thousands of fields would hold the event loop for minutes: far more fields or constants than any
 * real schema has are refused before it parses.
 */
export const MAX_PROTO_DEFINITIONS = 3000;

function checkSize(text: string): void {
  const definitions =
    text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '').match(/=\s*-?(?:0x[0-9a-f]+|\d+)\s*[;[]/gi)?.length ?? 0;
  if (definitions > MAX_PROTO_DEFINITIONS)
    throw RegistryErrors.invalidSchema(
      `Protobuf: ${definitions} fields and enum constants, over the limit of ${MAX_PROTO_DEFINITIONS} for one schema`,
    );
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Confluent's wording (protobuf/diff/Difference.java), with `%s` for the reader's and writer's labels. */
function describe(d: ProtoDifference): string {
  const p = d.path;
  const text: Record<string, string> = {
    PACKAGE_CHANGED: `The package at '${p}' in the %s schema does not match the package in the %s schema`,
    MESSAGE_REMOVED: `The %s schema is missing a MESSAGE type at path '${p}' in the %s schema`,
    FIELD_KIND_CHANGED: `The type of a field at path '${p}' in the %s schema does not match the %s schema`,
    FIELD_SCALAR_KIND_CHANGED: `The kind of a SCALAR field at path '${p}' in the %s schema does not match its kind in the %s schema`,
    FIELD_NAMED_TYPE_CHANGED: `The type of a MESSAGE field at path '${p}' in the %s schema does not match its type in the %s schema`,
    FIELD_NUMERIC_LABEL_CHANGED: `The label for a NUMERIC field at path '${p}' in the %s schema does not match its label in the %s schema`,
    REQUIRED_FIELD_ADDED: `A required field  at path '${p}' in the %s schema is missing in the %s schema`,
    REQUIRED_FIELD_REMOVED: `The %s schema is missing a required field at path: '${p}' in the %s schema`,
    ONEOF_FIELD_REMOVED: `The %s schema is missing a oneof field at path '${p}' in the %s schema`,
    MULTIPLE_FIELDS_MOVED_TO_ONEOF: `Multiple fields in the oneof at path '${p}' in the %s schema are outside a oneof in the %s schema`,
    FIELD_MOVED_TO_EXISTING_ONEOF: `A field in the oneof at path '${p}' in the %s schema is outside an existing oneof in the %s schema`,
  };
  return `{errorType:"${d.type}", description:"${text[d.type] ?? ''}"}`;
}
