import type { Type } from 'avsc';
import { type AvroField, avroKind, fieldsOf, simpleName } from './avro-types.ts';

/** One reason a reader cannot read a writer's data, as Apache Avro's SchemaCompatibility reports it. */
export interface AvroIncompatibility {
  type:
    | 'NAME_MISMATCH'
    | 'FIXED_SIZE_MISMATCH'
    | 'MISSING_ENUM_SYMBOLS'
    | 'READER_FIELD_MISSING_DEFAULT_VALUE'
    | 'TYPE_MISMATCH'
    | 'MISSING_UNION_BRANCH';
  /** Where in the reader schema, e.g. `/fields/1/type`. */
  location: string;
  /** Apache Avro's message (the missing field's name, the missing symbols, the expected name...). */
  message: string;
}

const PROMOTIONS: Record<string, readonly string[]> = {
  long: ['int'],
  float: ['int', 'long'],
  double: ['int', 'long', 'float'],
  bytes: ['string'],
  string: ['bytes'],
};

/**
 * Apache Avro's ReaderWriterCompatibilityChecker, rule for rule, because the registry's verdicts must
 * match what Java producers and consumers get from Confluent's registry (avsc's resolver decides
 * readability its own way and reports no reasons). Names compare unqualified, as Java's
 * `schemaNameEquals` does, or through the reader's aliases; every incompatibility is collected.
 */
export function avroIncompatibilities(reader: Type, writer: Type): AvroIncompatibility[] {
  return new Checker().check(reader, writer, []);
}

class Checker {
  /** Pairs being checked further up the stack: a recursive type is assumed compatible with itself. */
  readonly #inProgress = new Map<Type, Set<Type>>();
  readonly #done = new Map<Type, Map<Type, AvroIncompatibility[]>>();

  check(reader: Type, writer: Type, location: string[]): AvroIncompatibility[] {
    const cached = this.#done.get(reader)?.get(writer);
    if (cached) return cached.map((i) => ({ ...i, location: relocate(i.location, location) }));
    const active = this.#inProgress.get(reader) ?? new Set<Type>();
    if (active.has(writer)) return [];
    active.add(writer);
    this.#inProgress.set(reader, active);
    const found = this.#compare(reader, writer, []);
    active.delete(writer);
    let byWriter = this.#done.get(reader);
    if (!byWriter) this.#done.set(reader, (byWriter = new Map()));
    byWriter.set(writer, found);
    return found.map((i) => ({ ...i, location: relocate(i.location, location) }));
  }

  #compare(reader: Type, writer: Type, at: string[]): AvroIncompatibility[] {
    const r = avroKind(reader);
    const w = avroKind(writer);
    if (r === w) {
      switch (r) {
        case 'array':
          return this.check(items(reader), items(writer), [...at, 'items']);
        case 'map':
          return this.check(values(reader), values(writer), [...at, 'values']);
        case 'fixed':
          return [...this.#names(reader, writer, at), ...fixedSize(reader, writer, at)];
        case 'enum':
          return [...this.#names(reader, writer, at), ...enumSymbols(reader, writer, at)];
        case 'record':
          return [...this.#names(reader, writer, at), ...this.#fields(reader, writer, at)];
        case 'union': {
          // Every branch the writer may have written must be readable by the reader union.
          const out: AvroIncompatibility[] = [];
          branches(writer).forEach((branch, i) => {
            if (this.check(reader, branch, []).length > 0)
              out.push({
                type: 'MISSING_UNION_BRANCH',
                location: path([...at, String(i)]),
                message: `reader union lacking writer type: ${avroKind(branch).toUpperCase()}`,
              });
          });
          return out;
        }
        default:
          return [];
      }
    }
    if (w === 'union') {
      // Avro 1.11.3+ (AVRO-3612) reports these under the writer branch's index.
      const out: AvroIncompatibility[] = [];
      branches(writer).forEach((branch, i) => {
        out.push(...this.check(reader, branch, [...at, String(i)]));
      });
      return out;
    }
    if (r === 'union') {
      for (const branch of branches(reader)) if (this.check(branch, writer, at).length === 0) return [];
      return [
        {
          type: 'MISSING_UNION_BRANCH',
          location: path(at),
          message: `reader union lacking writer type: ${w.toUpperCase()}`,
        },
      ];
    }
    if (PROMOTIONS[r]?.includes(w)) return [];
    return [
      {
        type: 'TYPE_MISMATCH',
        location: path(at),
        message: `reader type: ${r.toUpperCase()} not compatible with writer type: ${w.toUpperCase()}`,
      },
    ];
  }

  #names(reader: Type, writer: Type, at: string[]): AvroIncompatibility[] {
    if (simpleName(reader.name!) === simpleName(writer.name!)) return [];
    // avsc qualifies aliases with the type's namespace, as Java's getAliases() does.
    if (reader.aliases?.includes(writer.name!)) return [];
    return [{ type: 'NAME_MISMATCH', location: path([...at, 'name']), message: `expected: ${writer.name}` }];
  }

  #fields(reader: Type, writer: Type, at: string[]): AvroIncompatibility[] {
    const out: AvroIncompatibility[] = [];
    const writerFields = fieldsOf(writer);
    fieldsOf(reader).forEach((field, pos) => {
      const where = [...at, 'fields', String(pos)];
      const match = writerFieldFor(writerFields, field);
      if (match) {
        out.push(...this.check(field.type, match.type, [...where, 'type']));
      } else if (field.defaultValue() === undefined) {
        // An enum with a default can still be read when the field is missing (Avro 1.10+).
        if (avroKind(field.type) === 'enum' && (field.type as { default?: string }).default !== undefined)
          out.push(...this.check(field.type, writer, [...where, 'type']));
        else
          out.push({
            type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
            location: path(where),
            message: field.name,
          });
      }
    });
    return out;
  }
}

function writerFieldFor(writerFields: readonly AvroField[], field: AvroField): AvroField | undefined {
  return (
    writerFields.find((w) => w.name === field.name) ??
    writerFields.find((w) => field.aliases.includes(w.name))
  );
}

function fixedSize(reader: Type, writer: Type, at: string[]): AvroIncompatibility[] {
  const r = (reader as unknown as { size: number }).size;
  const w = (writer as unknown as { size: number }).size;
  return r === w
    ? []
    : [
        {
          type: 'FIXED_SIZE_MISMATCH',
          location: path([...at, 'size']),
          message: `expected: ${w}, found: ${r}`,
        },
      ];
}

function enumSymbols(reader: Type, writer: Type, at: string[]): AvroIncompatibility[] {
  const readerSymbols = new Set((reader as unknown as { symbols: string[] }).symbols);
  const missing = (writer as unknown as { symbols: string[] }).symbols.filter((s) => !readerSymbols.has(s));
  if (missing.length === 0 || (reader as { default?: string }).default !== undefined) return [];
  // Java lists them from a TreeSet: sorted, `[A, B]`.
  return [
    {
      type: 'MISSING_ENUM_SYMBOLS',
      location: path([...at, 'symbols']),
      message: `[${missing.sort().join(', ')}]`,
    },
  ];
}

const items = (t: Type) => (t as unknown as { itemsType: Type }).itemsType;
const values = (t: Type) => (t as unknown as { valuesType: Type }).valuesType;
const branches = (t: Type) => (t as unknown as { types: Type[] }).types;
const path = (parts: readonly string[]) => `/${parts.join('/')}`;
const relocate = (location: string, prefix: readonly string[]) =>
  prefix.length === 0 ? location : `${path(prefix)}${location === '/' ? '' : location}`;
