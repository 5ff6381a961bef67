import {
  type ArrayNode,
  type CombinedNode,
  deref,
  type JsonNode,
  type NumberNode,
  type ObjectNode,
  type StringNode,
} from './json-schema-model.ts';

/**
 * What changed between two JSON Schemas, in the terms of Confluent's registry (its json/diff
 * package), so verdicts and messages match what users of Confluent's registry get. `original` is the
 * schema data was written with, `update` the one that must accept it: loosening is compatible,
 * tightening is not. Written by hand: no JSON Schema library compares two schemas.
 */
export interface JsonDifference {
  type: string;
  /** `#/properties/name/maxLength` style. */
  path: string;
}

/** The changes that keep every value the original accepted acceptable (Confluent's COMPATIBLE_CHANGES). */
export const COMPATIBLE_JSON_CHANGES: ReadonlySet<string> = new Set([
  'ID_CHANGED',
  'DESCRIPTION_CHANGED',
  'TITLE_CHANGED',
  'DEFAULT_CHANGED',
  'SCHEMA_REMOVED',
  'TYPE_EXTENDED',
  'MAX_LENGTH_INCREASED',
  'MAX_LENGTH_REMOVED',
  'MIN_LENGTH_DECREASED',
  'MIN_LENGTH_REMOVED',
  'PATTERN_REMOVED',
  'MAXIMUM_INCREASED',
  'MAXIMUM_REMOVED',
  'MINIMUM_DECREASED',
  'MINIMUM_REMOVED',
  'EXCLUSIVE_MAXIMUM_INCREASED',
  'EXCLUSIVE_MAXIMUM_REMOVED',
  'EXCLUSIVE_MINIMUM_DECREASED',
  'EXCLUSIVE_MINIMUM_REMOVED',
  'MULTIPLE_OF_REDUCED',
  'MULTIPLE_OF_REMOVED',
  'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED',
  'REQUIRED_ATTRIBUTE_REMOVED',
  'DEPENDENCY_ARRAY_NARROWED',
  'DEPENDENCY_ARRAY_REMOVED',
  'DEPENDENCY_SCHEMA_REMOVED',
  'MAX_PROPERTIES_INCREASED',
  'MAX_PROPERTIES_REMOVED',
  'MIN_PROPERTIES_DECREASED',
  'MIN_PROPERTIES_REMOVED',
  'ADDITIONAL_PROPERTIES_ADDED',
  'ADDITIONAL_PROPERTIES_EXTENDED',
  'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
  'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL',
  'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
  'PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL',
  'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'MAX_ITEMS_INCREASED',
  'MAX_ITEMS_REMOVED',
  'MIN_ITEMS_DECREASED',
  'MIN_ITEMS_REMOVED',
  'UNIQUE_ITEMS_REMOVED',
  'ADDITIONAL_ITEMS_ADDED',
  'ADDITIONAL_ITEMS_EXTENDED',
  'ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
  'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL',
  'ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL',
  'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  'ENUM_ARRAY_EXTENDED',
  'COMBINED_TYPE_EXTENDED',
  'PRODUCT_TYPE_NARROWED',
  'SUM_TYPE_EXTENDED',
  'NOT_TYPE_NARROWED',
]);

export function jsonSchemaDiff(original: JsonNode, update: JsonNode): JsonDifference[] {
  const ctx = new Context([], new Map());
  compare(ctx, original, update);
  return ctx.diffs;
}

class Context {
  readonly diffs: JsonDifference[] = [];
  readonly path: string[];
  /** Pairs being compared further up: meeting one again is a cycle, taken as no change. */
  readonly active: Map<JsonNode, Set<JsonNode>>;

  constructor(path: string[], active: Map<JsonNode, Set<JsonNode>>) {
    this.path = path;
    this.active = active;
  }

  add(type: string, ...segment: string[]): void {
    this.diffs.push({ type, path: `#/${[...this.path, ...segment].join('/')}` });
  }

  /** A context for a trial comparison at the same place, whose differences are kept only if it passes. */
  sub(): Context {
    return new Context([...this.path], this.active);
  }

  at<T>(segment: string[], fn: () => T): T {
    this.path.push(...segment);
    try {
      return fn();
    } finally {
      this.path.length -= segment.length;
    }
  }

  compatible(): boolean {
    return this.diffs.every((d) => COMPATIBLE_JSON_CHANGES.has(d.type));
  }

  merge(other: Context): void {
    this.diffs.push(...other.diffs);
  }
}

function compare(ctx: Context, originalIn: JsonNode | undefined, updateIn: JsonNode | undefined) {
  if (originalIn === undefined && updateIn === undefined) return;
  if (originalIn === undefined) return ctx.add('SCHEMA_ADDED');
  if (updateIn === undefined) return ctx.add('SCHEMA_REMOVED');
  const o = deref(originalIn);
  const u = deref(updateIn);

  if (o.kind !== 'combined' && u.kind === 'combined') {
    if (u.subschemas.length === 1) {
      const sub = ctx.sub();
      compare(sub, o, u.subschemas[0]);
      if (sub.compatible()) return ctx.merge(sub);
    } else if (u.criterion !== 'allOf') {
      for (const s of u.subschemas) {
        const sub = ctx.sub();
        compare(sub, o, s);
        if (sub.compatible()) {
          ctx.merge(sub);
          return ctx.add('SUM_TYPE_EXTENDED');
        }
      }
    }
  } else if (o.kind === 'combined' && u.kind !== 'combined') {
    if (o.subschemas.length === 1) {
      const sub = ctx.sub();
      compare(sub, o.subschemas[0], u);
      if (sub.compatible()) return ctx.merge(sub);
    } else if (o.criterion === 'allOf') {
      for (const s of o.subschemas) {
        const sub = ctx.sub();
        compare(sub, s, u);
        if (sub.compatible()) {
          ctx.merge(sub);
          return ctx.add('PRODUCT_TYPE_NARROWED');
        }
      }
    }
  }

  if (o.kind !== u.kind) {
    // Anything may become the empty schema, and what accepted nothing may become anything.
    if (o.kind === 'false' || u.kind === 'empty') return;
    // Kafka Connect writes decimals as bytes, shown as a string or a number.
    if (o.meta.extra['connect.type'] === 'bytes' && u.meta.extra['connect.type'] === 'bytes') return;
    return ctx.add('TYPE_CHANGED');
  }

  let partners = ctx.active.get(o);
  if (partners?.has(u)) return;
  if (!partners) ctx.active.set(o, (partners = new Set()));
  partners.add(u);
  try {
    if (o.meta.id !== u.meta.id) ctx.add('ID_CHANGED');
    if (o.meta.title !== u.meta.title) ctx.add('TITLE_CHANGED');
    if (o.meta.description !== u.meta.description) ctx.add('DESCRIPTION_CHANGED');
    if (!sameJson(o.meta.default, u.meta.default)) ctx.add('DEFAULT_CHANGED');
    switch (o.kind) {
      case 'string':
        return compareString(ctx, o, u as StringNode);
      case 'number':
        return compareNumber(ctx, o, u as NumberNode);
      case 'const':
        if (!sameJson(o.value, (u as typeof o).value)) ctx.add('ENUM_ARRAY_CHANGED', 'const');
        return;
      case 'enum':
        return compareEnum(ctx, o.values, (u as typeof o).values);
      case 'combined':
        return compareCombined(ctx, o, u as CombinedNode);
      case 'not': {
        // `not` turns the question around: the update's excluded values must be a subset of the original's.
        const sub = ctx.sub();
        sub.at(['not'], () => compare(sub, (u as typeof o).schema, o.schema));
        ctx.add(sub.compatible() ? 'NOT_TYPE_NARROWED' : 'NOT_TYPE_EXTENDED', 'not');
        return;
      }
      case 'object':
        return compareObject(ctx, o, u as ObjectNode);
      case 'array':
        return compareArray(ctx, o, u as ArrayNode);
      default:
        return;
    }
  } finally {
    partners.delete(u);
  }
}

function limits(ctx: Context, keyword: string, name: string, o: number | undefined, u: number | undefined) {
  if (o === u) return;
  if (o === undefined) ctx.add(`${name}_ADDED`, keyword);
  else if (u === undefined) ctx.add(`${name}_REMOVED`, keyword);
  else ctx.add(o < u ? `${name}_INCREASED` : `${name}_DECREASED`, keyword);
}

function compareString(ctx: Context, o: StringNode, u: StringNode) {
  limits(ctx, 'maxLength', 'MAX_LENGTH', o.maxLength, u.maxLength);
  limits(ctx, 'minLength', 'MIN_LENGTH', o.minLength, u.minLength);
  if (o.pattern === u.pattern) return;
  if (o.pattern === undefined) ctx.add('PATTERN_ADDED', 'pattern');
  else if (u.pattern === undefined) ctx.add('PATTERN_REMOVED', 'pattern');
  else ctx.add('PATTERN_CHANGED', 'pattern');
}

function compareNumber(ctx: Context, o: NumberNode, u: NumberNode) {
  limits(ctx, 'maximum', 'MAXIMUM', o.maximum, u.maximum);
  limits(ctx, 'minimum', 'MINIMUM', o.minimum, u.minimum);
  limits(ctx, 'exclusiveMaximum', 'EXCLUSIVE_MAXIMUM', o.exclusiveMaximum, u.exclusiveMaximum);
  limits(ctx, 'exclusiveMinimum', 'EXCLUSIVE_MINIMUM', o.exclusiveMinimum, u.exclusiveMinimum);
  if (o.multipleOf !== u.multipleOf) {
    if (o.multipleOf === undefined) ctx.add('MULTIPLE_OF_ADDED', 'multipleOf');
    else if (u.multipleOf === undefined) ctx.add('MULTIPLE_OF_REMOVED', 'multipleOf');
    else if (divides(o.multipleOf, u.multipleOf)) ctx.add('MULTIPLE_OF_EXPANDED', 'multipleOf');
    else if (divides(u.multipleOf, o.multipleOf)) ctx.add('MULTIPLE_OF_REDUCED', 'multipleOf');
    else ctx.add('MULTIPLE_OF_CHANGED', 'multipleOf');
  }
  if (o.integer && !u.integer) ctx.add('TYPE_EXTENDED');
  else if (!o.integer && u.integer) ctx.add('TYPE_NARROWED');
}

/** Whether `multiple` is a whole multiple of `base`, in decimal terms (0.5 divides 10, 0.1 divides 0.3). */
function divides(base: number, multiple: number): boolean {
  const scale = 10 ** Math.max(decimals(base), decimals(multiple));
  const b = Math.round(base * scale);
  const m = Math.round(multiple * scale);
  return b !== 0 && m % b === 0;
}

function decimals(n: number): number {
  const text = String(n);
  const exp = text.match(/e-(\d+)$/);
  if (exp) return Number(exp[1]) + (text.split('e')[0]!.split('.')[1]?.length ?? 0);
  return text.split('.')[1]?.length ?? 0;
}

function compareEnum(ctx: Context, o: unknown[], u: unknown[]) {
  const os = new Set(o.map((v) => canonicalJson(v)));
  const us = new Set(u.map((v) => canonicalJson(v)));
  const uHasAll = [...os].every((v) => us.has(v));
  const oHasAll = [...us].every((v) => os.has(v));
  if (uHasAll && oHasAll) return;
  ctx.add(uHasAll ? 'ENUM_ARRAY_EXTENDED' : oHasAll ? 'ENUM_ARRAY_NARROWED' : 'ENUM_ARRAY_CHANGED', 'enum');
}

function compareCombined(ctx: Context, o: CombinedNode, u: CombinedNode) {
  if (o.criterion !== u.criterion) {
    const extended =
      u.criterion === 'anyOf' ||
      (o.subschemas.length === 1 && u.subschemas.length === 1) ||
      (o.subschemas.length === 1 && u.criterion === 'oneOf') ||
      (u.subschemas.length === 1 && o.criterion === 'allOf');
    if (!extended) return ctx.add('COMBINED_TYPE_CHANGED');
    ctx.add('COMBINED_TYPE_EXTENDED');
  }
  const os = dedup(o.subschemas);
  const us = dedup(u.subschemas);
  if (os.length < us.length) ctx.add(u.criterion === 'allOf' ? 'PRODUCT_TYPE_EXTENDED' : 'SUM_TYPE_EXTENDED');
  else if (os.length > us.length)
    ctx.add(o.criterion === 'allOf' ? 'PRODUCT_TYPE_NARROWED' : 'SUM_TYPE_NARROWED');
  // Which original subschemas each update subschema could stand in for, then the largest pairing.
  const edges = os.map((oi, i) =>
    us.map((ui) => {
      const sub = ctx.sub();
      sub.at([o.criterion, String(i)], () => compare(sub, oi, ui));
      return sub.compatible() ? sub : null;
    }),
  );
  const matched = maximumMatching(edges.map((row) => row.map((e) => e !== null)));
  for (const [i, j] of matched) ctx.merge(edges[i]![j]!);
  if (matched.length < Math.min(os.length, us.length)) ctx.add('COMBINED_TYPE_SUBSCHEMAS_CHANGED');
}

/** Kuhn's augmenting paths: the subschema lists are short. Returns matched [left, right] pairs, left in order. */
function maximumMatching(adjacent: boolean[][]): Array<[number, number]> {
  const rightOwner = new Map<number, number>();
  const tryAssign = (left: number, seen: Set<number>): boolean => {
    for (let right = 0; right < (adjacent[left]?.length ?? 0); right++) {
      if (!adjacent[left]![right] || seen.has(right)) continue;
      seen.add(right);
      const owner = rightOwner.get(right);
      if (owner === undefined || tryAssign(owner, seen)) {
        rightOwner.set(right, left);
        return true;
      }
    }
    return false;
  };
  for (let left = 0; left < adjacent.length; left++) tryAssign(left, new Set());
  return [...rightOwner.entries()]
    .map(([right, left]): [number, number] => [left, right])
    .sort((a, b) => a[0] - b[0]);
}

function dedup(nodes: readonly JsonNode[]): JsonNode[] {
  const seen = new Set<string>();
  return nodes.filter((n) => {
    const key = n.meta.json;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const isOpen = (s: ObjectNode) =>
  s.patternProperties.length === 0 && s.additional === undefined && s.permitsAdditional;

function partialSchema(s: ObjectNode, key: string): JsonNode | undefined {
  for (const [pattern, schema] of s.patternProperties) if (safeRegExp(pattern)?.test(key)) return schema;
  return s.additional;
}

function compareObject(ctx: Context, o: ObjectNode, u: ObjectNode) {
  for (const name of o.properties.keys()) {
    if (!u.properties.has(name)) continue;
    const wasRequired = o.required.includes(name);
    const isRequired = u.required.includes(name);
    if (wasRequired && !isRequired) ctx.add('REQUIRED_ATTRIBUTE_REMOVED', 'required', name);
    else if (!wasRequired && isRequired)
      ctx.add(
        deref(u.properties.get(name)!).meta.hasDefault || u.properties.get(name)!.meta.hasDefault
          ? 'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED'
          : 'REQUIRED_ATTRIBUTE_ADDED',
        'required',
        name,
      );
  }

  for (const name of new Set([...o.properties.keys(), ...u.properties.keys()])) {
    const op = o.properties.get(name);
    const up = u.properties.get(name);
    ctx.at(['properties', name], () => {
      if (op && up) return compare(ctx, op, up);
      if (op) return propertyRemoved(ctx, name, op, u);
      return propertyAdded(ctx, name, up!, o, u);
    });
  }

  for (const key of new Set([...o.propertyDependencies.keys(), ...u.propertyDependencies.keys()])) {
    const od = o.propertyDependencies.get(key);
    const ud = u.propertyDependencies.get(key);
    if (!ud) ctx.add('DEPENDENCY_ARRAY_REMOVED', 'dependencies', key);
    else if (!od) ctx.add('DEPENDENCY_ARRAY_ADDED', 'dependencies', key);
    else {
      const uHasAll = od.every((d) => ud.includes(d));
      const oHasAll = ud.every((d) => od.includes(d));
      if (!(uHasAll && oHasAll))
        ctx.add(
          uHasAll
            ? 'DEPENDENCY_ARRAY_EXTENDED'
            : oHasAll
              ? 'DEPENDENCY_ARRAY_NARROWED'
              : 'DEPENDENCY_ARRAY_CHANGED',
          'dependencies',
          key,
        );
    }
  }
  for (const key of new Set([...o.schemaDependencies.keys(), ...u.schemaDependencies.keys()])) {
    const od = o.schemaDependencies.get(key);
    const ud = u.schemaDependencies.get(key);
    if (!ud) ctx.add('DEPENDENCY_SCHEMA_REMOVED', 'dependencies', key);
    else if (!od) ctx.add('DEPENDENCY_SCHEMA_ADDED', 'dependencies', key);
    else ctx.at(['dependencies', key], () => compare(ctx, od, ud));
  }

  if (o.permitsAdditional !== u.permitsAdditional)
    ctx.add(
      u.permitsAdditional ? 'ADDITIONAL_PROPERTIES_ADDED' : 'ADDITIONAL_PROPERTIES_REMOVED',
      'additionalProperties',
    );
  else if (!o.additional && u.additional) ctx.add('ADDITIONAL_PROPERTIES_NARROWED', 'additionalProperties');
  else if (o.additional && !u.additional) ctx.add('ADDITIONAL_PROPERTIES_EXTENDED', 'additionalProperties');
  else if (o.additional && u.additional)
    ctx.at(['additionalProperties'], () => compare(ctx, o.additional, u.additional));

  limits(ctx, 'maxProperties', 'MAX_PROPERTIES', o.maxProperties, u.maxProperties);
  limits(ctx, 'minProperties', 'MIN_PROPERTIES', o.minProperties, u.minProperties);
}

/** A property only the original has: whether the update still accepts what data may hold there. */
function propertyRemoved(ctx: Context, name: string, op: JsonNode, u: ObjectNode) {
  if (isOpen(u)) return ctx.add('PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL');
  const covering = partialSchema(u, name);
  if (covering) {
    const sub = ctx.sub();
    compare(sub, op, covering);
    ctx.merge(sub);
    return ctx.add(
      sub.compatible()
        ? 'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL'
        : 'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
    );
  }
  ctx.add(
    deref(op).kind === 'false'
      ? 'PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL'
      : 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  );
}

/** A property only the update has: whether what data may already hold under that name fits it. */
function propertyAdded(ctx: Context, name: string, up: JsonNode, o: ObjectNode, u: ObjectNode) {
  if (isOpen(o)) {
    return ctx.add(
      deref(up).kind === 'empty'
        ? 'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL'
        : 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
    );
  }
  const covering = partialSchema(o, name);
  if (covering) {
    const sub = ctx.sub();
    compare(sub, covering, up);
    ctx.merge(sub);
    ctx.add(
      sub.compatible()
        ? 'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL'
        : 'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
    );
  }
  if (!u.required.includes(name)) return ctx.add('OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL');
  ctx.add(
    up.meta.hasDefault || deref(up).meta.hasDefault
      ? 'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL'
      : 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
  );
}

const isOpenArray = (a: ArrayNode) => a.permitsAdditionalItems && a.additionalItems === undefined;

function compareArray(ctx: Context, o: ArrayNode, u: ArrayNode) {
  ctx.at(['items'], () => compare(ctx, o.allItems, u.allItems));
  const oi = o.itemSchemas ?? [];
  const ui = u.itemSchemas ?? [];
  for (let i = 0; i < Math.max(oi.length, ui.length); i++) {
    ctx.at(['items', String(i)], () => {
      if (i < oi.length && i < ui.length) return compare(ctx, oi[i], ui[i]);
      if (i < oi.length) {
        if (isOpenArray(u)) return ctx.add('ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL');
        if (u.additionalItems) {
          const sub = ctx.sub();
          compare(sub, oi[i], u.additionalItems);
          ctx.merge(sub);
          return ctx.add(
            sub.compatible()
              ? 'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL'
              : 'ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
          );
        }
        return ctx.add(
          deref(oi[i]!).kind === 'false'
            ? 'ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL'
            : 'ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL',
        );
      }
      if (isOpenArray(o))
        return ctx.add(
          deref(ui[i]!).kind === 'empty'
            ? 'ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL'
            : 'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
        );
      if (o.additionalItems) {
        const sub = ctx.sub();
        compare(sub, o.additionalItems, ui[i]);
        ctx.merge(sub);
        return ctx.add(
          sub.compatible()
            ? 'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL'
            : 'ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
        );
      }
      ctx.add('ITEM_ADDED_TO_CLOSED_CONTENT_MODEL');
    });
  }
  if (o.permitsAdditionalItems !== u.permitsAdditionalItems)
    ctx.add(
      o.permitsAdditionalItems ? 'ADDITIONAL_ITEMS_REMOVED' : 'ADDITIONAL_ITEMS_ADDED',
      'additionalItems',
    );
  else if (!o.additionalItems && u.additionalItems) ctx.add('ADDITIONAL_ITEMS_NARROWED', 'additionalItems');
  else if (o.additionalItems && !u.additionalItems) ctx.add('ADDITIONAL_ITEMS_EXTENDED', 'additionalItems');
  else if (o.additionalItems && u.additionalItems)
    ctx.at(['additionalItems'], () => compare(ctx, o.additionalItems, u.additionalItems));
  limits(ctx, 'maxItems', 'MAX_ITEMS', o.maxItems, u.maxItems);
  limits(ctx, 'minItems', 'MIN_ITEMS', o.minItems, u.minItems);
  if (o.uniqueItems && !u.uniqueItems) ctx.add('UNIQUE_ITEMS_REMOVED', 'uniqueItems');
  else if (!o.uniqueItems && u.uniqueItems) ctx.add('UNIQUE_ITEMS_ADDED', 'uniqueItems');
}

function safeRegExp(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return null;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(sortKeys(value));
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
