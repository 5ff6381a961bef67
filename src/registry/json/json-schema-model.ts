import { RegistryErrors } from '../errors.ts';

/**
 * A JSON Schema as a typed tree, built the way the everit library builds it for Confluent's registry,
 * because the compatibility rules are defined over that tree, not over raw JSON: `{}` and `true` are
 * the empty schema, a schema mixing keywords of several kinds is an allOf of one schema per kind,
 * `type: [a, b]` is an anyOf, keywords beside a `$ref` are ignored.
 */
export type JsonNode =
  | { kind: 'empty'; meta: Meta }
  | { kind: 'false'; meta: Meta }
  | { kind: 'boolean'; meta: Meta }
  | { kind: 'null'; meta: Meta }
  | StringNode
  | NumberNode
  | ObjectNode
  | ArrayNode
  | { kind: 'enum'; meta: Meta; values: unknown[] }
  | { kind: 'const'; meta: Meta; value: unknown }
  | CombinedNode
  | { kind: 'not'; meta: Meta; schema: JsonNode }
  | RefNode
  | { kind: 'conditional'; meta: Meta };

export interface Meta {
  id?: string;
  title?: string;
  description?: string;
  default?: unknown;
  hasDefault: boolean;
  /** Keywords no node consumed (e.g. Kafka Connect's `connect.type`). */
  extra: Record<string, unknown>;
  /** The JSON the node came from: combined schemas drop duplicate subschemas by it. */
  json: string;
}

export interface StringNode {
  kind: 'string';
  meta: Meta;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

export interface NumberNode {
  kind: 'number';
  meta: Meta;
  integer: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
}

export interface ObjectNode {
  kind: 'object';
  meta: Meta;
  properties: Map<string, JsonNode>;
  required: string[];
  permitsAdditional: boolean;
  /** `additionalProperties` given as a schema (`{}` included, `true` not). */
  additional?: JsonNode;
  patternProperties: Array<[pattern: string, schema: JsonNode]>;
  propertyDependencies: Map<string, string[]>;
  schemaDependencies: Map<string, JsonNode>;
  minProperties?: number;
  maxProperties?: number;
}

export interface ArrayNode {
  kind: 'array';
  meta: Meta;
  /** `items` as one schema for every item. */
  allItems?: JsonNode;
  /** `items` as an array (a tuple), or draft 2020-12 `prefixItems`. */
  itemSchemas?: JsonNode[];
  permitsAdditionalItems: boolean;
  additionalItems?: JsonNode;
  minItems?: number;
  maxItems?: number;
  uniqueItems: boolean;
}

export interface CombinedNode {
  kind: 'combined';
  meta: Meta;
  criterion: 'allOf' | 'anyOf' | 'oneOf';
  subschemas: JsonNode[];
}

export interface RefNode {
  kind: 'ref';
  meta: Meta;
  ref: string;
  target(): JsonNode;
}

/** A JSON document a `$ref` can point into: the schema itself, or one of its references by name. */
export interface JsonDocument {
  name: string;
  json: unknown;
}

const STRING_KEYWORDS = ['minLength', 'maxLength', 'pattern', 'format'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const OBJECT_KEYWORDS = [
  'properties',
  'required',
  'additionalProperties',
  'patternProperties',
  'dependencies',
  'dependentRequired',
  'dependentSchemas',
  'minProperties',
  'maxProperties',
  'propertyNames',
];
const ARRAY_KEYWORDS = [
  'items',
  'prefixItems',
  'additionalItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'contains',
];
const KEYWORDS_OF: Record<string, string[]> = {
  string: STRING_KEYWORDS,
  integer: NUMBER_KEYWORDS,
  number: NUMBER_KEYWORDS,
  object: OBJECT_KEYWORDS,
  array: ARRAY_KEYWORDS,
  boolean: [],
  null: [],
};
const KNOWN = new Set([
  ...STRING_KEYWORDS,
  ...NUMBER_KEYWORDS,
  ...OBJECT_KEYWORDS,
  ...ARRAY_KEYWORDS,
  'type',
  'enum',
  'const',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  '$ref',
  '$id',
  'id',
  '$schema',
  'title',
  'description',
  'default',
  'definitions',
  '$defs',
  '$comment',
  'examples',
  'readOnly',
  'writeOnly',
  'contentEncoding',
  'contentMediaType',
]);

/** Builds the tree of a schema whose `$ref`s may point into itself or into `documents`. */
export function loadJsonSchema(root: JsonDocument, documents: readonly JsonDocument[]): JsonNode {
  return new Loader([root, ...documents]).load(root.json, root);
}

class Loader {
  readonly #documents: readonly JsonDocument[];
  /** One node per $ref target, so a recursive schema is a graph with cycles, not an endless tree. */
  readonly #targets = new Map<string, JsonNode>();

  constructor(documents: readonly JsonDocument[]) {
    this.#documents = documents;
  }

  load(json: unknown, doc: JsonDocument): JsonNode {
    if (json === true) return { kind: 'empty', meta: meta({}, 'true') };
    if (json === false) return { kind: 'false', meta: meta({}, 'false') };
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw RegistryErrors.invalidSchema(
        `JSON Schema: a schema must be an object or a boolean, not ${JSON.stringify(json)?.slice(0, 80)}`,
      );
    const s = json as Record<string, unknown>;
    const m = meta(s, JSON.stringify(s));
    if (typeof s.$ref === 'string') return this.#reference(s.$ref, doc, m);

    const parts: JsonNode[] = [];
    // Parts of one schema object are told apart by what they came from, for de-duplication.
    const inner = (part: string): Meta => meta({}, `${part}:${m.json}`);
    if ('enum' in s) {
      if (!Array.isArray(s.enum)) throw RegistryErrors.invalidSchema('JSON Schema: "enum" must be an array');
      parts.push({ kind: 'enum', meta: inner('enum'), values: s.enum });
    }
    for (const criterion of ['allOf', 'anyOf', 'oneOf'] as const) {
      if (!(criterion in s)) continue;
      const list = s[criterion];
      if (!Array.isArray(list) || list.length === 0)
        throw RegistryErrors.invalidSchema(
          `JSON Schema: "${criterion}" must be a non-empty array of schemas`,
        );
      parts.push({
        kind: 'combined',
        meta: inner(criterion),
        criterion,
        subschemas: list.map((x) => this.load(x, doc)),
      });
    }
    if ('not' in s) parts.push({ kind: 'not', meta: inner('not'), schema: this.load(s.not, doc) });
    if ('const' in s) parts.push({ kind: 'const', meta: inner('const'), value: s.const });

    const consumed = new Set<string>();
    if (typeof s.type === 'string') {
      parts.push(this.#typed(s.type, s, doc, inner(s.type)));
      for (const k of KEYWORDS_OF[s.type] ?? []) consumed.add(k);
    } else if (Array.isArray(s.type)) {
      const types = s.type.map((t) => {
        if (typeof t !== 'string') throw RegistryErrors.invalidSchema('JSON Schema: "type" lists type names');
        for (const k of KEYWORDS_OF[t] ?? []) consumed.add(k);
        return this.#typed(t, s, doc, inner(t));
      });
      parts.push({ kind: 'combined', meta: inner('type'), criterion: 'anyOf', subschemas: types });
    } else if (s.type !== undefined) {
      throw RegistryErrors.invalidSchema('JSON Schema: "type" must be a type name or an array of them');
    }
    // Keywords of a kind `type` did not name still constrain values of that kind.
    for (const kind of ['string', 'number', 'object', 'array'] as const)
      if (KEYWORDS_OF[kind]!.some((k) => k in s && !consumed.has(k)))
        parts.push(this.#typed(kind, s, doc, inner(kind)));
    if ('if' in s || 'then' in s || 'else' in s) parts.push({ kind: 'conditional', meta: inner('if') });

    if (parts.length === 0) return { kind: 'empty', meta: m };
    if (parts.length === 1) return { ...parts[0]!, meta: m } as JsonNode;
    return { kind: 'combined', meta: m, criterion: 'allOf', subschemas: parts };
  }

  #typed(type: string, s: Record<string, unknown>, doc: JsonDocument, m: Meta): JsonNode {
    switch (type) {
      case 'string':
        return {
          kind: 'string',
          meta: m,
          ...optionalNumber(s, 'minLength'),
          ...optionalNumber(s, 'maxLength'),
          ...(typeof s.pattern === 'string' ? { pattern: s.pattern } : {}),
        };
      case 'integer':
      case 'number':
        return {
          kind: 'number',
          meta: m,
          integer: type === 'integer',
          ...optionalNumber(s, 'minimum'),
          ...optionalNumber(s, 'maximum'),
          ...optionalNumber(s, 'exclusiveMinimum'),
          ...optionalNumber(s, 'exclusiveMaximum'),
          ...optionalNumber(s, 'multipleOf'),
        };
      case 'boolean':
      case 'null':
        return { kind: type, meta: m };
      case 'object':
        return this.#object(s, doc, m);
      case 'array':
        return this.#array(s, doc, m);
      default:
        throw RegistryErrors.invalidSchema(`JSON Schema: unknown type ${JSON.stringify(type)}`);
    }
  }

  #object(s: Record<string, unknown>, doc: JsonDocument, m: Meta): ObjectNode {
    const properties = new Map<string, JsonNode>();
    for (const [name, schema] of Object.entries(objectOf(s.properties, 'properties')))
      properties.set(name, this.load(schema, doc));
    const node: ObjectNode = {
      kind: 'object',
      meta: m,
      properties,
      required: Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : [],
      permitsAdditional: s.additionalProperties !== false,
      patternProperties: Object.entries(objectOf(s.patternProperties, 'patternProperties')).map(
        ([p, schema]) => [p, this.load(schema, doc)],
      ),
      propertyDependencies: new Map(),
      schemaDependencies: new Map(),
      ...optionalNumber(s, 'minProperties'),
      ...optionalNumber(s, 'maxProperties'),
    };
    if (typeof s.additionalProperties === 'object' && s.additionalProperties !== null)
      node.additional = this.load(s.additionalProperties, doc);
    const dependencies = {
      ...objectOf(s.dependencies, 'dependencies'),
      ...objectOf(s.dependentRequired, 'dependentRequired'),
      ...objectOf(s.dependentSchemas, 'dependentSchemas'),
    };
    for (const [key, value] of Object.entries(dependencies)) {
      if (Array.isArray(value)) node.propertyDependencies.set(key, value.map(String));
      else node.schemaDependencies.set(key, this.load(value, doc));
    }
    return node;
  }

  #array(s: Record<string, unknown>, doc: JsonDocument, m: Meta): ArrayNode {
    const node: ArrayNode = {
      kind: 'array',
      meta: m,
      permitsAdditionalItems: true,
      uniqueItems: s.uniqueItems === true,
      ...optionalNumber(s, 'minItems'),
      ...optionalNumber(s, 'maxItems'),
    };
    // Draft 2020-12 spells a tuple `prefixItems` and its additional items `items`.
    const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
    const additional = Array.isArray(s.prefixItems)
      ? s.items
      : Array.isArray(s.items)
        ? s.additionalItems
        : s.additionalItems;
    if (tuple) node.itemSchemas = tuple.map((x) => this.load(x, doc));
    else if (s.items !== undefined && !Array.isArray(s.prefixItems)) {
      if (typeof s.items === 'boolean' && '$schema' in s && String(s.$schema).includes('2020-12')) {
        node.permitsAdditionalItems = s.items;
      } else node.allItems = this.load(s.items, doc);
    }
    if (additional === false) node.permitsAdditionalItems = false;
    else if (typeof additional === 'object' && additional !== null)
      node.additionalItems = this.load(additional, doc);
    return node;
  }

  #reference(ref: string, doc: JsonDocument, m: Meta): RefNode {
    const hash = ref.indexOf('#');
    const location = hash >= 0 ? ref.slice(0, hash) : ref;
    const pointer = hash >= 0 ? decodeURIComponent(ref.slice(hash + 1)) : '';
    const target = location === '' ? doc : this.#document(location, ref);
    const key = `${target.name}#${pointer}`;
    const resolved = resolvePointer(target.json, pointer, ref);
    return {
      kind: 'ref',
      meta: m,
      ref,
      target: () => {
        let node = this.#targets.get(key);
        if (!node) {
          // A placeholder first: a schema that refers to itself finds this node while it is being built.
          const placeholder: RefNode = { kind: 'ref', meta: m, ref, target: () => this.#targets.get(key)! };
          this.#targets.set(key, placeholder);
          node = this.load(resolved, target);
          this.#targets.set(key, node);
        }
        return node;
      },
    };
  }

  #document(location: string, ref: string): JsonDocument {
    const found =
      this.#documents.find((d) => d.name === location) ??
      this.#documents.find((d) => idOf(d.json) === location) ??
      this.#documents.find((d) => location.endsWith(`/${d.name}`) || d.name.endsWith(`/${location}`));
    if (!found)
      throw RegistryErrors.invalidSchema(
        `JSON Schema: $ref ${JSON.stringify(ref)} names ${JSON.stringify(location)}, which is neither this schema nor one of its references`,
      );
    return found;
  }
}

/** Follows a `$ref` to what it stands for (references to references included). */
export function deref(node: JsonNode): JsonNode {
  let current = node;
  for (let hops = 0; current.kind === 'ref'; hops++) {
    if (hops > 100) throw RegistryErrors.invalidSchema('JSON Schema: $ref chain does not end');
    current = current.target();
  }
  return current;
}

function resolvePointer(json: unknown, pointer: string, ref: string): unknown {
  if (pointer === '' || pointer === '/') return json;
  let current = json;
  for (const raw of pointer.replace(/^\//, '').split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !(part in current))
      throw RegistryErrors.invalidSchema(`JSON Schema: $ref ${JSON.stringify(ref)} points to nothing`);
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function meta(s: Record<string, unknown>, json: string): Meta {
  const m: Meta = { hasDefault: 'default' in s, extra: {}, json };
  const id = s.$id ?? s.id;
  if (typeof id === 'string') m.id = id;
  if (typeof s.title === 'string') m.title = s.title;
  if (typeof s.description === 'string') m.description = s.description;
  if ('default' in s) m.default = s.default;
  for (const [k, v] of Object.entries(s)) if (!KNOWN.has(k)) m.extra[k] = v;
  return m;
}

function idOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const id = (json as { $id?: unknown; id?: unknown }).$id ?? (json as { id?: unknown }).id;
  return typeof id === 'string' ? id.replace(/#$/, '') : undefined;
}

function objectOf(value: unknown, keyword: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw RegistryErrors.invalidSchema(`JSON Schema: "${keyword}" must be an object`);
  return value as Record<string, unknown>;
}

function optionalNumber(s: Record<string, unknown>, keyword: string): Record<string, number> {
  return typeof s[keyword] === 'number' ? { [keyword]: s[keyword] as number } : {};
}
