import { InvalidArgumentError } from '../../core/index.ts';
import type { SchemaType } from '../schema.ts';

/**
 * TypeScript declarations for a registered schema (`kappa schemas codegen`), the types the
 * producer's `topic<T>()` takes. Written by hand: json-schema-to-typescript covers JSON Schema only
 * (and brings a formatter with it), and Avro's mapping is a screenful.
 */
export function typescriptTypes(type: SchemaType, schema: string, rootName: string): string {
  if (type === 'AVRO') return new AvroTypes().render(JSON.parse(schema), rootName);
  if (type === 'JSON') return new JsonSchemaTypes(JSON.parse(schema)).render(rootName);
  throw new InvalidArgumentError(`codegen writes types for Avro and JSON schemas, not ${type}`);
}

/** `orders-value` → `OrdersValue`: a TypeScript identifier. */
export function typeName(text: string): string {
  const name = text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Za-z_]/.test(name) ? name : `T${name}`;
}

const doc = (text: unknown, indent = '') =>
  typeof text === 'string' && text.length > 0 ? `${indent}/** ${text.replaceAll('*/', '* /')} */\n` : '';
const property = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

class AvroTypes {
  readonly #declarations: string[] = [];
  readonly #named = new Set<string>();

  render(schema: unknown, rootName: string): string {
    const root = this.#type(schema, '');
    // A root that is not a named type gets the subject's name.
    if (!this.#named.has(root)) this.#declarations.push(`export type ${rootName} = ${root};\n`);
    else if (root !== rootName) this.#declarations.push(`export type ${rootName} = ${root};\n`);
    return this.#declarations.join('\n');
  }

  #type(schema: unknown, namespace: string): string {
    if (typeof schema === 'string') return this.#primitive(schema) ?? typeName(schema.split('.').at(-1)!);
    if (Array.isArray(schema)) return schema.map((s) => this.#type(s, namespace)).join(' | ');
    const s = schema as Record<string, unknown>;
    const name = typeof s.name === 'string' ? typeName(s.name.split('.').at(-1)!) : null;
    switch (s.type) {
      case 'record':
      case 'error': {
        const fields = (s.fields as Array<Record<string, unknown>>).map(
          (f) => `${doc(f.doc, '  ')}  ${property(f.name as string)}: ${this.#type(f.type, namespace)};`,
        );
        this.#declare(name!, `${doc(s.doc)}export interface ${name} {\n${fields.join('\n')}\n}\n`);
        return name!;
      }
      case 'enum':
        this.#declare(
          name!,
          `${doc(s.doc)}export type ${name} = ${(s.symbols as string[]).map((x) => JSON.stringify(x)).join(' | ')};\n`,
        );
        return name!;
      case 'fixed':
        this.#declare(name!, `export type ${name} = Buffer;\n`);
        return name!;
      case 'array':
        return `Array<${this.#type(s.items, namespace)}>`;
      case 'map':
        return `Record<string, ${this.#type(s.values, namespace)}>`;
      default:
        return this.#type(s.type, namespace);
    }
  }

  #primitive(name: string): string | null {
    const map: Record<string, string> = {
      null: 'null',
      boolean: 'boolean',
      int: 'number',
      long: 'number',
      float: 'number',
      double: 'number',
      bytes: 'Buffer',
      string: 'string',
    };
    return map[name] ?? null;
  }

  #declare(name: string, text: string): void {
    if (this.#named.has(name)) return;
    this.#named.add(name);
    this.#declarations.push(text);
  }
}

class JsonSchemaTypes {
  readonly #root: Record<string, unknown>;
  readonly #declarations: string[] = [];

  constructor(root: unknown) {
    this.#root = (root ?? {}) as Record<string, unknown>;
  }

  render(rootName: string): string {
    const definitions = {
      ...((this.#root.definitions as Record<string, unknown>) ?? {}),
      ...((this.#root.$defs as Record<string, unknown>) ?? {}),
    };
    for (const [name, schema] of Object.entries(definitions))
      this.#declarations.push(
        `${doc((schema as { description?: unknown }).description)}export type ${typeName(name)} = ${this.#type(schema, '')};\n`,
      );
    this.#declarations.push(
      `${doc(this.#root.description)}export type ${rootName} = ${this.#type(this.#root, '')};\n`,
    );
    return this.#declarations.join('\n');
  }

  #type(schema: unknown, indent: string): string {
    if (schema === true || schema === undefined) return 'unknown';
    if (schema === false) return 'never';
    const s = schema as Record<string, unknown>;
    if (typeof s.$ref === 'string') {
      const m = /^#\/(?:definitions|\$defs)\/(.+)$/.exec(s.$ref);
      return m ? typeName(decodeURIComponent(m[1]!)) : 'unknown';
    }
    if ('const' in s) return JSON.stringify(s.const);
    if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    for (const key of ['oneOf', 'anyOf'] as const)
      if (Array.isArray(s[key])) return (s[key] as unknown[]).map((x) => this.#type(x, indent)).join(' | ');
    if (Array.isArray(s.allOf))
      return (s.allOf as unknown[]).map((x) => `(${this.#type(x, indent)})`).join(' & ');
    const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
    if (types.length === 0) return s.properties ? this.#object(s, indent) : 'unknown';
    return types.map((t) => this.#one(t, s, indent)).join(' | ');
  }

  #one(type: string, s: Record<string, unknown>, indent: string): string {
    switch (type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return `Array<${this.#type(s.items, indent)}>`;
      case 'object':
        return this.#object(s, indent);
      default:
        return 'unknown';
    }
  }

  #object(s: Record<string, unknown>, indent: string): string {
    const inner = `${indent}  `;
    const required = new Set((s.required as string[] | undefined) ?? []);
    const properties = Object.entries((s.properties as Record<string, unknown>) ?? {}).map(
      ([name, p]) =>
        `${doc((p as { description?: unknown }).description, inner)}${inner}${property(name)}${required.has(name) ? '' : '?'}: ${this.#type(p, inner)};`,
    );
    const extra = s.additionalProperties;
    if (extra !== undefined && extra !== false)
      properties.push(
        `${inner}[key: string]: ${extra === true ? 'unknown' : `${this.#type(extra, inner)} | undefined`};`,
      );
    return properties.length === 0 ? 'Record<string, unknown>' : `{\n${properties.join('\n')}\n${indent}}`;
  }
}
