import { describe, expect, it } from 'vitest';
import { checkCompatibility, type JsonSchema, jsonSchemaProvider } from '../../src/registry/index.ts';
import { COMPATIBLE_JSON_CHANGES, jsonSchemaDiff } from '../../src/registry/json/json-schema-diff.ts';

// Original (writer) → update (reader) cases after Confluent's json-schema-provider test vectors
// (diff-schema-examples.json and diff-combined-schema-examples.json), with the differences and the
// verdict they assert. Differences are compared as sets: Confluent's order comes from Java hash sets.

const parse = (schema: unknown) => jsonSchemaProvider.parse(JSON.stringify(schema), []) as JsonSchema;
const diff = (o: unknown, u: unknown) =>
  jsonSchemaDiff(parse(o).node, parse(u).node)
    .map((d) => `${d.type} ${d.path}`)
    .sort();
const verdict = (o: unknown, u: unknown) =>
  jsonSchemaDiff(parse(o).node, parse(u).node).every((d) => COMPATIBLE_JSON_CHANGES.has(d.type));

const S = { type: 'string' };
const N = { type: 'number' };
const B = { type: 'boolean' };
const str = (extra: object) => ({ type: 'string', ...extra });
const num = (extra: object) => ({ type: 'number', ...extra });
const arr = (extra: object) => ({ type: 'array', ...extra });
const props = (p: object, extra: object = {}) => ({ properties: p, ...extra });
const ref = (target: unknown) => ({ $ref: '#/definitions/someRef', definitions: { someRef: target } });

type Case = [name: string, original: unknown, update: unknown, compatible: boolean, changes: string[]];

const CASES: Case[] = [
  ['empty properties to empty', { properties: {} }, {}, true, []],
  ['id changed', { id: 'something' }, { id: 'something_else' }, true, ['ID_CHANGED #/']],
  ['title changed', { title: 'something' }, { title: 'something_else' }, true, ['TITLE_CHANGED #/']],
  ['description changed', { description: 'a' }, { description: 'b' }, true, ['DESCRIPTION_CHANGED #/']],
  ['object to array', { type: 'object' }, { type: 'array' }, false, ['TYPE_CHANGED #/']],
  [
    'minLength increased',
    str({ minLength: 10 }),
    str({ minLength: 11 }),
    false,
    ['MIN_LENGTH_INCREASED #/minLength'],
  ],
  [
    'minLength decreased',
    str({ minLength: 11 }),
    str({ minLength: 10 }),
    true,
    ['MIN_LENGTH_DECREASED #/minLength'],
  ],
  [
    'maxLength increased',
    str({ maxLength: 10 }),
    str({ maxLength: 12 }),
    true,
    ['MAX_LENGTH_INCREASED #/maxLength'],
  ],
  [
    'maxLength decreased',
    str({ maxLength: 12 }),
    str({ maxLength: 10 }),
    false,
    ['MAX_LENGTH_DECREASED #/maxLength'],
  ],
  ['maxLength added', S, str({ maxLength: 10 }), false, ['MAX_LENGTH_ADDED #/maxLength']],
  ['pattern removed', str({ pattern: 'uuid' }), S, true, ['PATTERN_REMOVED #/pattern']],
  [
    'pattern changed',
    str({ pattern: 'date-time' }),
    str({ pattern: 'uuid' }),
    false,
    ['PATTERN_CHANGED #/pattern'],
  ],
  ['pattern same', str({ pattern: 'date-time' }), str({ pattern: 'date-time' }), true, []],
  ['pattern added', S, str({ pattern: '^a' }), false, ['PATTERN_ADDED #/pattern']],
  ['maximum removed', num({ maximum: 10 }), N, true, ['MAXIMUM_REMOVED #/maximum']],
  ['maximum increased', num({ maximum: 10 }), num({ maximum: 11 }), true, ['MAXIMUM_INCREASED #/maximum']],
  ['maximum decreased', num({ maximum: 11 }), num({ maximum: 10 }), false, ['MAXIMUM_DECREASED #/maximum']],
  ['minimum removed', num({ minimum: 10 }), N, true, ['MINIMUM_REMOVED #/minimum']],
  ['minimum increased', num({ minimum: 10 }), num({ minimum: 11 }), false, ['MINIMUM_INCREASED #/minimum']],
  ['minimum decreased', num({ minimum: 11 }), num({ minimum: 10 }), true, ['MINIMUM_DECREASED #/minimum']],
  [
    'exclusiveMaximum added',
    N,
    num({ exclusiveMaximum: 5 }),
    false,
    ['EXCLUSIVE_MAXIMUM_ADDED #/exclusiveMaximum'],
  ],
  [
    'exclusiveMinimum decreased',
    num({ exclusiveMinimum: 5 }),
    num({ exclusiveMinimum: 1 }),
    true,
    ['EXCLUSIVE_MINIMUM_DECREASED #/exclusiveMinimum'],
  ],
  ['multipleOf removed', num({ multipleOf: 10 }), N, true, ['MULTIPLE_OF_REMOVED #/multipleOf']],
  [
    'multipleOf reduced',
    num({ multipleOf: 10 }),
    num({ multipleOf: 2 }),
    true,
    ['MULTIPLE_OF_REDUCED #/multipleOf'],
  ],
  [
    'multipleOf changed',
    num({ multipleOf: 10 }),
    num({ multipleOf: 11 }),
    false,
    ['MULTIPLE_OF_CHANGED #/multipleOf'],
  ],
  [
    'multipleOf expanded by a fraction',
    num({ multipleOf: 0.5 }),
    num({ multipleOf: 10 }),
    false,
    ['MULTIPLE_OF_EXPANDED #/multipleOf'],
  ],
  ['multipleOf 0.5 and 0.50 are equal', num({ multipleOf: 0.5 }), num({ multipleOf: 0.5 }), true, []],
  ['number narrowed to integer', N, { type: 'integer' }, false, ['TYPE_NARROWED #/']],
  ['integer extended to number', { type: 'integer' }, N, true, ['TYPE_EXTENDED #/']],
  ['not narrowed', { not: N }, { not: { type: 'integer' } }, true, ['NOT_TYPE_NARROWED #/not']],
  ['not extended', { not: { type: 'integer' } }, { not: N }, false, ['NOT_TYPE_EXTENDED #/not']],
  ['enum dropped from a string', { type: 'string', enum: ['red'] }, S, true, ['PRODUCT_TYPE_NARROWED #/']],
  [
    'const changed',
    { $schema: 'http://json-schema.org/draft-07/schema#', properties: { foo: { const: 'red' } } },
    { $schema: 'http://json-schema.org/draft-07/schema#', properties: { foo: { const: 'blue' } } },
    false,
    ['ENUM_ARRAY_CHANGED #/properties/foo/const'],
  ],
  [
    'allOf enum changed',
    { allOf: [S, { enum: ['red'] }] },
    { allOf: [S, { enum: ['blue'] }] },
    false,
    ['COMBINED_TYPE_SUBSCHEMAS_CHANGED #/'],
  ],
  [
    'allOf enum extended and reordered',
    { allOf: [S, { enum: ['red'] }] },
    { allOf: [{ enum: ['red', 'blue'] }, S] },
    true,
    ['ENUM_ARRAY_EXTENDED #/allOf/1/enum'],
  ],
  ['enum narrowed', { enum: ['a', 'b'] }, { enum: ['a'] }, false, ['ENUM_ARRAY_NARROWED #/enum']],
  ['enum changed', { enum: ['a', 'b'] }, { enum: ['a', 'c'] }, false, ['ENUM_ARRAY_CHANGED #/enum']],
  ['type list extended', { type: ['object'] }, { type: ['object', 'array'] }, true, ['SUM_TYPE_EXTENDED #/']],
  ['oneOf branch replaced', { oneOf: [S] }, { oneOf: [N] }, false, ['COMBINED_TYPE_SUBSCHEMAS_CHANGED #/']],
  ['oneOf branch added', { oneOf: [S] }, { oneOf: [N, S] }, true, ['SUM_TYPE_EXTENDED #/']],
  [
    'property renamed in an open model',
    props({ foo: S }),
    props({ bar: S }),
    false,
    [
      'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/bar',
      'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/foo',
    ],
  ],
  ['property type changed', props({ foo: S }), props({ foo: N }), false, ['TYPE_CHANGED #/properties/foo']],
  [
    'optional property added to a closed model',
    props({ foo: S }, { additionalProperties: false }),
    props({ foo: S, bar: N }, { additionalProperties: false }),
    true,
    ['OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar'],
  ],
  [
    'property added, covered by a pattern',
    props(
      { foo: S },
      { additionalProperties: false, patternProperties: { '^S_': S, '^I_': { type: 'integer' } } },
    ),
    props(
      { foo: S, I_123: N },
      { additionalProperties: false, patternProperties: { '^S_': S, '^I_': { type: 'integer' } } },
    ),
    true,
    [
      'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/I_123',
      'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/I_123',
      'TYPE_EXTENDED #/properties/I_123',
    ],
  ],
  [
    'property added, covered by additionalProperties',
    props({ foo: S }, { additionalProperties: S }),
    props({ foo: S, bar: S }, { additionalProperties: S }),
    true,
    [
      'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar',
      'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
    ],
  ],
  [
    'property added, not covered by additionalProperties',
    props({ foo: S }, { additionalProperties: S }),
    props({ foo: S, bar: N }, { additionalProperties: S }),
    false,
    [
      'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar',
      'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
      'TYPE_CHANGED #/properties/bar',
    ],
  ],
  [
    'required property added to a partially open model',
    props({ foo: S }, { additionalProperties: S }),
    props({ foo: S, bar: S }, { additionalProperties: S, required: ['bar'] }),
    false,
    [
      'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
      'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar',
    ],
  ],
  [
    'required property with a default added to a closed model',
    props({ foo: S }, { additionalProperties: false }),
    props(
      { foo: S, bar: { type: 'string', default: 'x' } },
      { additionalProperties: false, required: ['bar'] },
    ),
    true,
    ['REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/bar'],
  ],
  [
    'property removed, covered by a pattern',
    props({ foo: S, I_123: { type: 'integer' } }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: false, patternProperties: { '^S_': S, '^I_': N } }),
    true,
    [
      'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/I_123',
      'TYPE_EXTENDED #/properties/I_123',
    ],
  ],
  [
    'property removed, covered by additionalProperties',
    props({ foo: S, bar: S }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: S }),
    true,
    [
      'ADDITIONAL_PROPERTIES_ADDED #/additionalProperties',
      'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
    ],
  ],
  [
    'property removed, not covered',
    props({ foo: S, bar: N }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: S }),
    false,
    [
      'ADDITIONAL_PROPERTIES_ADDED #/additionalProperties',
      'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
      'TYPE_CHANGED #/properties/bar',
    ],
  ],
  [
    'nullable property removed, covered by a nullable additionalProperties',
    props({ foo: S, bar: { oneOf: [{ type: 'null' }, S] } }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: { oneOf: [{ type: 'null' }, S] } }),
    true,
    [
      'ADDITIONAL_PROPERTIES_ADDED #/additionalProperties',
      'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
    ],
  ],
  [
    'string property removed, covered by a nullable additionalProperties',
    props({ foo: S, bar: S }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: { oneOf: [{ type: 'null' }, S] } }),
    true,
    [
      'ADDITIONAL_PROPERTIES_ADDED #/additionalProperties',
      'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/bar',
      'SUM_TYPE_EXTENDED #/properties/bar',
    ],
  ],
  [
    'property removed from a closed model',
    props({ foo: S, bar: S }, { additionalProperties: false }),
    props({ foo: S }, { additionalProperties: false }),
    false,
    ['PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/bar'],
  ],
  [
    'property added to an open model',
    props({ foo: S }),
    props({ foo: S, bar: N }),
    false,
    ['PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/bar'],
  ],
  [
    'oneOf object property changed',
    { oneOf: [props({ foo: S })] },
    { oneOf: [props({ foo: N })] },
    false,
    ['COMBINED_TYPE_SUBSCHEMAS_CHANGED #/'],
  ],
  ['oneOf to allOf, one branch', { oneOf: [S] }, { allOf: [S] }, true, ['COMBINED_TYPE_EXTENDED #/']],
  [
    'oneOf of two to allOf',
    { oneOf: [S, { type: 'integer' }] },
    { allOf: [S] },
    false,
    ['COMBINED_TYPE_CHANGED #/'],
  ],
  [
    'dependencies swapped',
    props({ foo: N, bar: S }, { dependencies: { foo: ['bar'] } }),
    props({ foo: N, bar: S }, { dependencies: { bar: ['foo'] } }),
    false,
    ['DEPENDENCY_ARRAY_ADDED #/dependencies/bar', 'DEPENDENCY_ARRAY_REMOVED #/dependencies/foo'],
  ],
  [
    'dependency array extended',
    props({ a: S, b: S, c: S }, { dependencies: { a: ['b'] } }),
    props({ a: S, b: S, c: S }, { dependencies: { a: ['b', 'c'] } }),
    false,
    ['DEPENDENCY_ARRAY_EXTENDED #/dependencies/a'],
  ],
  [
    'dependency array narrowed',
    props({ a: S, b: S, c: S }, { dependencies: { a: ['b', 'c'] } }),
    props({ a: S, b: S, c: S }, { dependencies: { a: ['b'] } }),
    true,
    ['DEPENDENCY_ARRAY_NARROWED #/dependencies/a'],
  ],
  [
    'dependency schema removed',
    { dependencies: { foo: S, bar: S } },
    { dependencies: { foo: S } },
    true,
    ['DEPENDENCY_SCHEMA_REMOVED #/dependencies/bar'],
  ],
  [
    'last dependency schema removed',
    { dependencies: { foo: S } },
    { dependencies: {} },
    true,
    ['DEPENDENCY_SCHEMA_REMOVED #/dependencies/foo'],
  ],
  [
    'dependency schema changed',
    { dependencies: { foo: S } },
    { dependencies: { foo: N } },
    false,
    ['TYPE_CHANGED #/dependencies/foo'],
  ],
  [
    'dependency schema replaced',
    { dependencies: { foo: S } },
    { dependencies: { bar: S } },
    false,
    ['DEPENDENCY_SCHEMA_ADDED #/dependencies/bar', 'DEPENDENCY_SCHEMA_REMOVED #/dependencies/foo'],
  ],
  [
    'required removed',
    props({ foo: S }, { required: ['foo'] }),
    props({ foo: S }),
    true,
    ['REQUIRED_ATTRIBUTE_REMOVED #/required/foo'],
  ],
  [
    'required added',
    props({ foo: S }),
    props({ foo: S }, { required: ['foo'] }),
    false,
    ['REQUIRED_ATTRIBUTE_ADDED #/required/foo'],
  ],
  [
    'required added with a default',
    props({ foo: S }),
    props({ foo: { type: 'string', default: 'x' } }, { required: ['foo'] }),
    true,
    ['DEFAULT_CHANGED #/properties/foo', 'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED #/required/foo'],
  ],
  [
    'required of an unknown property ignored',
    props({ foo: S }, { required: ['foo'] }),
    props({ foo: S }, { required: ['bar'] }),
    true,
    ['REQUIRED_ATTRIBUTE_REMOVED #/required/foo'],
  ],
  [
    'maxProperties removed',
    { properties: {}, maxProperties: 1 },
    { properties: {} },
    true,
    ['MAX_PROPERTIES_REMOVED #/maxProperties'],
  ],
  [
    'maxProperties increased',
    { maxProperties: 1 },
    { maxProperties: 2 },
    true,
    ['MAX_PROPERTIES_INCREASED #/maxProperties'],
  ],
  [
    'maxProperties decreased',
    { maxProperties: 2 },
    { maxProperties: 1 },
    false,
    ['MAX_PROPERTIES_DECREASED #/maxProperties'],
  ],
  [
    'minProperties removed',
    { properties: {}, minProperties: 2 },
    { properties: {} },
    true,
    ['MIN_PROPERTIES_REMOVED #/minProperties'],
  ],
  [
    'minProperties increased',
    { minProperties: 1 },
    { minProperties: 2 },
    false,
    ['MIN_PROPERTIES_INCREASED #/minProperties'],
  ],
  [
    'minProperties decreased',
    { minProperties: 2 },
    { minProperties: 1 },
    true,
    ['MIN_PROPERTIES_DECREASED #/minProperties'],
  ],
  ['items schema added', arr({}), arr({ items: S }), false, ['SCHEMA_ADDED #/items']],
  ['items schema removed', arr({ items: S }), arr({}), true, ['SCHEMA_REMOVED #/items']],
  [
    'tuple removed in an open array',
    arr({ items: [S, N] }),
    arr({}),
    true,
    ['ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/0', 'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1'],
  ],
  [
    'tuple item added, covered',
    arr({ items: [S, N], additionalItems: S }),
    arr({ items: [S, N, S], additionalItems: S }),
    true,
    ['ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/2'],
  ],
  [
    'tuple item added, not covered',
    arr({ items: [S, N], additionalItems: S }),
    arr({ items: [S, N, N], additionalItems: S }),
    false,
    ['ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/2', 'TYPE_CHANGED #/items/2'],
  ],
  [
    'tuple item removed, covered',
    arr({ items: [S, N, S], additionalItems: S }),
    arr({ items: [S, N], additionalItems: S }),
    true,
    ['ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/2'],
  ],
  [
    'tuple item removed, not covered',
    arr({ items: [S, N, N], additionalItems: S }),
    arr({ items: [S, N], additionalItems: S }),
    false,
    ['ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/2', 'TYPE_CHANGED #/items/2'],
  ],
  ['tuple item type changed', arr({ items: [S] }), arr({ items: [N] }), false, ['TYPE_CHANGED #/items/0']],
  [
    'maxItems decreased',
    arr({ maxItems: 2 }),
    arr({ maxItems: 1 }),
    false,
    ['MAX_ITEMS_DECREASED #/maxItems'],
  ],
  ['minItems removed', arr({ minItems: 1 }), arr({}), true, ['MIN_ITEMS_REMOVED #/minItems']],
  [
    'minItems increased',
    arr({ minItems: 1 }),
    arr({ minItems: 2 }),
    false,
    ['MIN_ITEMS_INCREASED #/minItems'],
  ],
  [
    'minItems decreased',
    arr({ minItems: 2 }),
    arr({ minItems: 1 }),
    true,
    ['MIN_ITEMS_DECREASED #/minItems'],
  ],
  ['uniqueItems removed', arr({ uniqueItems: true }), arr({}), true, ['UNIQUE_ITEMS_REMOVED #/uniqueItems']],
  ['uniqueItems added', arr({}), arr({ uniqueItems: true }), false, ['UNIQUE_ITEMS_ADDED #/uniqueItems']],
  [
    '$ref target changed',
    { ...arr({ items: { $ref: '#/definitions/someRef' } }), definitions: { someRef: S } },
    { ...arr({ items: { $ref: '#/definitions/someRef' } }), definitions: { someRef: N } },
    false,
    ['TYPE_CHANGED #/items'],
  ],
  ['type to $ref of the same', S, ref(S), true, []],
  ['$ref to the same type', ref(S), S, true, []],
  [
    'additionalProperties false removed',
    { properties: {}, additionalProperties: false },
    { properties: {} },
    true,
    ['ADDITIONAL_PROPERTIES_ADDED #/additionalProperties'],
  ],
  [
    'additionalProperties closed',
    { additionalProperties: true },
    { additionalProperties: false },
    false,
    ['ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties'],
  ],
  [
    'additionalProperties narrowed',
    { additionalProperties: true },
    { additionalProperties: N },
    false,
    ['ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties'],
  ],
  [
    'additionalProperties extended',
    { additionalProperties: N },
    { additionalProperties: true },
    true,
    ['ADDITIONAL_PROPERTIES_EXTENDED #/additionalProperties'],
  ],
  [
    'true property added to an open model',
    { additionalProperties: true },
    { additionalProperties: true, properties: { foo: true } },
    true,
    ['PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/properties/foo'],
  ],
  [
    'true property removed from an open model',
    { additionalProperties: true, properties: { foo: true } },
    { additionalProperties: true },
    true,
    ['PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/foo'],
  ],
  [
    'false property added to a closed model',
    { additionalProperties: false },
    { additionalProperties: false, properties: { foo: false } },
    true,
    ['OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/foo'],
  ],
  [
    'false property removed from a closed model',
    { additionalProperties: false, properties: { foo: false } },
    { additionalProperties: false },
    true,
    ['PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/foo'],
  ],
  [
    'additionalProperties schema changed',
    { additionalProperties: S },
    { additionalProperties: N },
    false,
    ['TYPE_CHANGED #/additionalProperties'],
  ],
  [
    'additionalItems closed',
    { additionalItems: true },
    { additionalItems: false },
    false,
    ['ADDITIONAL_ITEMS_REMOVED #/additionalItems'],
  ],
  [
    'additionalItems schema changed',
    { additionalItems: S },
    { additionalItems: N },
    false,
    ['TYPE_CHANGED #/additionalItems'],
  ],
  [
    'true item added to an open tuple',
    arr({ additionalItems: true, items: [N] }),
    arr({ additionalItems: true, items: [N, true] }),
    true,
    ['ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/items/1'],
  ],
  [
    'item removed from an open tuple',
    arr({ additionalItems: true, items: [N, true] }),
    arr({ additionalItems: true, items: [N] }),
    true,
    ['ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1'],
  ],
  [
    'false item added to a closed tuple',
    arr({ additionalItems: false, items: [N] }),
    arr({ additionalItems: false, items: [N, false] }),
    true,
    ['ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1'],
  ],
  [
    'false item removed from a closed tuple',
    arr({ additionalItems: false, items: [N, false] }),
    arr({ additionalItems: false, items: [N] }),
    true,
    ['ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1'],
  ],
  [
    'closed tuple opened with an item added',
    arr({ items: [S, N], additionalItems: false }),
    arr({ items: [S, N, B], additionalItems: true }),
    true,
    ['ADDITIONAL_ITEMS_ADDED #/additionalItems', 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/2'],
  ],
  [
    'closed tuple opened with an item removed',
    arr({ items: [S, N, B], additionalItems: false }),
    arr({ items: [S, N], additionalItems: true }),
    true,
    ['ADDITIONAL_ITEMS_ADDED #/additionalItems', 'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/2'],
  ],
  [
    'open tuple shortened',
    arr({ items: [S, N], additionalItems: true }),
    arr({ items: [S], additionalItems: true }),
    true,
    ['ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1'],
  ],
  [
    'open tuple item added',
    arr({ items: [S], additionalItems: true }),
    arr({ items: [S, N], additionalItems: true }),
    false,
    ['ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1'],
  ],
  [
    'closed tuple lengthened',
    arr({ items: [S], additionalItems: false }),
    arr({ items: [S, N], additionalItems: false }),
    true,
    ['ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1'],
  ],
  [
    'closed tuple shortened into a covering schema',
    arr({ items: [S, N], additionalItems: false }),
    arr({ items: [S], additionalItems: N }),
    true,
    [
      'ADDITIONAL_ITEMS_ADDED #/additionalItems',
      'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1',
    ],
  ],
  [
    'partial tuple lengthened and opened',
    arr({ items: [S], additionalItems: N }),
    arr({ items: [S, N], additionalItems: true }),
    true,
    [
      'ADDITIONAL_ITEMS_EXTENDED #/additionalItems',
      'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1',
    ],
  ],
  ['string into a oneOf', S, { oneOf: [N, S] }, true, ['SUM_TYPE_EXTENDED #/']],
  ['null into a oneOf', { type: 'null' }, { oneOf: [N, { type: 'null' }] }, true, ['SUM_TYPE_EXTENDED #/']],
  ['single oneOf extended', { oneOf: [N] }, { oneOf: [S, N] }, true, ['SUM_TYPE_EXTENDED #/']],
  [
    'bounded string into a oneOf',
    str({ maxLength: 3 }),
    { oneOf: [N, S] },
    true,
    ['MAX_LENGTH_REMOVED #/maxLength', 'SUM_TYPE_EXTENDED #/'],
  ],
  ['oneOf narrowed to a type', { oneOf: [N, S] }, S, false, ['TYPE_CHANGED #/']],
  ['anything to empty', props({ a: S }, { required: ['a'] }), {}, true, []],
  ['empty to properties', {}, { properties: {} }, false, ['TYPE_CHANGED #/']],
  ['false to anything', false, S, true, []],
  ['default changed', str({ default: 'a' }), str({ default: 'b' }), true, ['DEFAULT_CHANGED #/']],
  [
    'Kafka Connect decimal as bytes, string to number',
    {
      type: 'string',
      title: 'org.apache.kafka.connect.data.Decimal',
      'connect.version': 1,
      'connect.type': 'bytes',
      'connect.parameters': { scale: '2' },
    },
    {
      type: 'number',
      title: 'org.apache.kafka.connect.data.Decimal',
      'connect.version': 1,
      'connect.type': 'bytes',
      'connect.parameters': { scale: '2' },
    },
    true,
    [],
  ],
  [
    'draft 2020-12 prefixItems lengthened',
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [S, N],
      items: false,
    },
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [S, N, B],
      items: true,
    },
    true,
    ['ADDITIONAL_ITEMS_ADDED #/additionalItems', 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/2'],
  ],
  [
    'draft 2020-12 dependentRequired swapped',
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      properties: { foo: N, bar: S },
      dependentRequired: { foo: ['bar'] },
    },
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      properties: { foo: N, bar: S },
      dependentRequired: { bar: ['foo'] },
    },
    false,
    ['DEPENDENCY_ARRAY_ADDED #/dependencies/bar', 'DEPENDENCY_ARRAY_REMOVED #/dependencies/foo'],
  ],
];

const E = { enum: ['one', 'two', 'three'] };
const M5 = { maxLength: 5 };
const P = (x: unknown) => ({ type: 'object', properties: { prop1: x } });
const COMBINED: Array<[string, unknown, unknown, boolean, string[]]> = [
  ['C1 allOf reordered', { allOf: [E, S, M5] }, { allOf: [M5, E, S] }, true, []],
  [
    'C2 allOf member changed',
    { allOf: [E, S, M5] },
    { allOf: [M5, E, N] },
    false,
    ['COMBINED_TYPE_SUBSCHEMAS_CHANGED'],
  ],
  ['C3 allOf duplicate dropped', { allOf: [S, S] }, { allOf: [S] }, true, []],
  ['C4 allOf duplicate added', { allOf: [S] }, { allOf: [S, S] }, true, []],
  ['C5 oneOf extended', { oneOf: [S] }, { oneOf: [N, S] }, true, ['SUM_TYPE_EXTENDED']],
  ['C6 oneOf extended by two', { oneOf: [S] }, { oneOf: [B, N, S] }, true, ['SUM_TYPE_EXTENDED']],
  [
    'C7 oneOf extended with a looser branch',
    { oneOf: [{ type: 'string', maxLength: 5 }] },
    { oneOf: [B, N, { title: 'my string', type: 'string', maxLength: 8 }] },
    true,
    ['SUM_TYPE_EXTENDED', 'TITLE_CHANGED/oneOf/0', 'MAX_LENGTH_INCREASED/oneOf/0/maxLength'],
  ],
  ['C8 oneOf narrowed', { oneOf: [N, S] }, { oneOf: [S] }, false, ['SUM_TYPE_NARROWED']],
  ['C9 allOf narrowed', { allOf: [E, S] }, { allOf: [S] }, true, ['PRODUCT_TYPE_NARROWED']],
  ['C10 allOf extended', { allOf: [S] }, { allOf: [E, S] }, false, ['PRODUCT_TYPE_EXTENDED']],
  ['C11 oneOf to anyOf', { oneOf: [S] }, { anyOf: [S] }, true, ['COMBINED_TYPE_EXTENDED']],
  [
    'C12 oneOf to a wider anyOf',
    { oneOf: [S] },
    { anyOf: [N, S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'SUM_TYPE_EXTENDED'],
  ],
  ['C13 allOf to anyOf', { allOf: [S] }, { anyOf: [S] }, true, ['COMBINED_TYPE_EXTENDED']],
  [
    'C14 oneOf to a narrower anyOf',
    { oneOf: [N, S] },
    { anyOf: [S] },
    false,
    ['COMBINED_TYPE_EXTENDED', 'SUM_TYPE_NARROWED'],
  ],
  [
    'C15 allOf to a wider anyOf',
    { allOf: [S] },
    { anyOf: [N, S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'SUM_TYPE_EXTENDED'],
  ],
  [
    'C16 allOf to a narrower anyOf',
    { allOf: [N, S] },
    { anyOf: [S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'PRODUCT_TYPE_NARROWED'],
  ],
  [
    'C17 anyOf to a wider oneOf',
    { anyOf: [S] },
    { oneOf: [N, S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'SUM_TYPE_EXTENDED'],
  ],
  ['C18 anyOf to a narrower oneOf', { anyOf: [N, S] }, { oneOf: [S] }, false, ['COMBINED_TYPE_CHANGED']],
  [
    'C19 allOf to a wider oneOf',
    { allOf: [N] },
    { oneOf: [N, S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'SUM_TYPE_EXTENDED'],
  ],
  [
    'C20 allOf to a narrower oneOf',
    { allOf: [N, S] },
    { oneOf: [S] },
    true,
    ['COMBINED_TYPE_EXTENDED', 'PRODUCT_TYPE_NARROWED'],
  ],
  ['C21 anyOf to allOf', { anyOf: [S] }, { allOf: [S] }, true, ['COMBINED_TYPE_EXTENDED']],
  ['C22 oneOf to allOf', { oneOf: [S] }, { allOf: [S] }, true, ['COMBINED_TYPE_EXTENDED']],
  ['C23 anyOf to a wider allOf', { anyOf: [S] }, { allOf: [N, S] }, false, ['COMBINED_TYPE_CHANGED']],
  ['C24 oneOf to a wider allOf', { oneOf: [S] }, { allOf: [N, S] }, false, ['COMBINED_TYPE_CHANGED']],
  ['C25 type into anyOf', S, { anyOf: [N, S] }, true, ['SUM_TYPE_EXTENDED']],
  ['C26 type into oneOf', S, { oneOf: [N, S] }, true, ['SUM_TYPE_EXTENDED']],
  ['C27 type into a single allOf', S, { allOf: [S] }, true, []],
  ['C28 type into a wider allOf', S, { allOf: [N, S] }, false, ['TYPE_CHANGED']],
];

describe('JSON Schema compatibility (Confluent semantics)', () => {
  it.each(CASES)('%s', (_name, original, update, compatible, changes) => {
    expect(diff(original, update)).toEqual([...changes].sort());
    expect(verdict(original, update)).toBe(compatible);
  });

  it.each(COMBINED)('%s', (_name, original, update, compatible, changes) => {
    const expected = changes.map((c) => {
      const [type, ...rest] = c.split('/');
      return `${type} #/properties/prop1${rest.length ? `/${rest.join('/')}` : ''}`;
    });
    expect(diff(P(original), P(update))).toEqual(expected.sort());
    expect(verdict(P(original), P(update))).toBe(compatible);
  });

  it('compares a recursive schema with itself without end', () => {
    const tree = {
      type: 'object',
      definitions: {
        node: {
          type: 'object',
          properties: { value: N, children: { type: 'array', items: { $ref: '#/definitions/node' } } },
        },
      },
      properties: { root: { $ref: '#/definitions/node' } },
    };
    expect(diff(tree, tree)).toEqual([]);
  });

  it('finds an incompatible change inside mutually recursive definitions', () => {
    const make = (t0: string, t1: string) => ({
      type: 'object',
      definitions: {
        T0: {
          type: 'object',
          properties: { id: { type: t0 }, ref: { oneOf: [{ $ref: '#/definitions/T2' }] } },
        },
        T1: {
          type: 'object',
          properties: { id: { type: t1 }, ref: { oneOf: [{ $ref: '#/definitions/T2' }] } },
        },
        T2: {
          type: 'object',
          properties: { id: { type: 'integer' }, ref: { oneOf: [{ $ref: '#/definitions/T0' }] } },
        },
      },
      properties: { root: { oneOf: [{ $ref: '#/definitions/T0' }, { $ref: '#/definitions/T1' }] } },
    });
    expect(verdict(make('integer', 'boolean'), make('boolean', 'number'))).toBe(false);
  });

  it('words messages as Confluent does and labels them by direction', () => {
    const previous = [{ version: 1, schema: parse(props({ foo: S })) }];
    const messages = checkCompatibility('BACKWARD', parse(props({ foo: S, bar: N })), previous);
    expect(messages[0]).toBe(
      `{errorType:"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:"The new schema has an open content model and has a property or item at path '#/properties/bar' which is missing in the old schema"}`,
    );
    expect(messages.slice(1)).toEqual([
      '{oldSchemaVersion: 1}',
      `{oldSchema: '${JSON.stringify(props({ foo: S }))}'}`,
      "{validateFields: 'false', compatibility: 'BACKWARD'}",
    ]);
    // Forward: the old schema must read the new one's data; a closed old schema cannot take a new property.
    const closed = [{ version: 3, schema: parse(props({ foo: S }, { additionalProperties: false })) }];
    const forward = checkCompatibility(
      'FORWARD',
      parse(props({ foo: S, bar: N }, { additionalProperties: false })),
      closed,
    );
    expect(forward[0]).toBe(
      `{errorType:"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", description:"The old schema has a closed content model and is missing a property or item present at path '#/properties/bar' in the new schema"}`,
    );
  });
});

describe('JSON Schema validation and parsing', () => {
  it('validates values with ajv and names the failing field', () => {
    const schema = parse({
      type: 'object',
      properties: {
        id: { type: 'string' },
        items: { type: 'array', items: { type: 'object', properties: { price: { type: 'number' } } } },
      },
      required: ['id'],
      additionalProperties: false,
    });
    expect(() => schema.validate({ id: 'a', items: [{ price: 1 }] })).not.toThrow();
    expect(() => schema.validate({ id: 'a', items: [{ price: 1 }, { price: 'x' }] })).toThrow(
      /\$\.items\[1\]\.price must be number/,
    );
    expect(() => schema.validate({ items: [] })).toThrow(/must have required property 'id'/);
    expect(() => schema.validate({ id: 'a', extra: 1 })).toThrow(/has a property 'extra'/);
  });

  it('resolves $ref to a referenced schema by its reference name', () => {
    const address = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const customer = jsonSchemaProvider.parse(
      JSON.stringify({ type: 'object', properties: { home: { $ref: 'address.json' } } }),
      [{ name: 'address.json', schema: JSON.stringify(address), references: [] }],
    ) as JsonSchema;
    expect(() => customer.validate({ home: { city: 'Oslo' } })).not.toThrow();
    expect(() => customer.validate({ home: {} })).toThrow(/\$\.home must have required property 'city'/);
  });

  it.each([
    ['a schema that is an array', '[1]'],
    ['an unknown type', '{"type":"strin"}'],
    ['a bad pattern', '{"type":"string","pattern":"("}'],
    ['a dangling $ref', '{"$ref":"#/definitions/none"}'],
    ['a $ref to an unknown document', '{"$ref":"other.json"}'],
    ['maxLength that is not a number', '{"type":"string","maxLength":"ten"}'],
  ])('refuses %s', (_name, text) => {
    expect(() => jsonSchemaProvider.parse(text, [])).toThrow(expect.objectContaining({ errorCode: 42201 }));
  });
});
