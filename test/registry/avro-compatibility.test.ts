import { describe, expect, it } from 'vitest';
import { avroIncompatibilities } from '../../src/registry/avro/avro-compatibility.ts';
import {
  type AvroSchema,
  avroProvider,
  type CompatibilityLevel,
  checkCompatibility,
} from '../../src/registry/index.ts';

// Reader/writer cases from Apache Avro's TestSchemaCompatibility* suites and Confluent's
// AvroCompatibilityTest, with the verdicts, incompatibility types, locations and messages they assert.

const parse = (schema: unknown) => avroProvider.parse(JSON.stringify(schema), []) as AvroSchema;
const record = (name: string, fields: unknown[], extra: object = {}) => ({
  type: 'record',
  name,
  fields,
  ...extra,
});
const field = (name: string, type: unknown, extra: object = {}) => ({ name, type, ...extra });
const enumOf = (name: string, symbols: string[], extra: object = {}) => ({
  type: 'enum',
  name,
  symbols,
  ...extra,
});
const fixed = (name: string, size: number) => ({ type: 'fixed', name, size });

const S = {
  NULL: 'null',
  BOOLEAN: 'boolean',
  INT: 'int',
  LONG: 'long',
  FLOAT: 'float',
  DOUBLE: 'double',
  STRING: 'string',
  BYTES: 'bytes',
  INT_ARRAY: { type: 'array', items: 'int' },
  LONG_ARRAY: { type: 'array', items: 'long' },
  STRING_ARRAY: { type: 'array', items: 'string' },
  INT_MAP: { type: 'map', values: 'int' },
  LONG_MAP: { type: 'map', values: 'long' },
  STRING_MAP: { type: 'map', values: 'string' },
  ENUM1_AB: enumOf('Enum1', ['A', 'B']),
  ENUM1_ABC: enumOf('Enum1', ['A', 'B', 'C']),
  ENUM1_BC: enumOf('Enum1', ['B', 'C']),
  ENUM2_AB: enumOf('Enum2', ['A', 'B']),
  NULL_UNION: ['null'],
  INT_UNION: ['int'],
  LONG_UNION: ['long'],
  FLOAT_UNION: ['float'],
  DOUBLE_UNION: ['double'],
  STRING_UNION: ['string'],
  BYTES_UNION: ['bytes'],
  INT_STRING_UNION: ['int', 'string'],
  STRING_INT_UNION: ['string', 'int'],
  INT_FLOAT_UNION: ['int', 'float'],
  INT_LONG_UNION: ['int', 'long'],
  INT_LONG_FLOAT_DOUBLE_UNION: ['int', 'long', 'float', 'double'],
  EMPTY_RECORD1: record('Record1', []),
  EMPTY_RECORD2: record('Record2', []),
  A_INT_RECORD1: record('Record1', [field('a', 'int')]),
  A_LONG_RECORD1: record('Record1', [field('a', 'long')]),
  A_INT_B_INT_RECORD1: record('Record1', [field('a', 'int'), field('b', 'int')]),
  A_DINT_RECORD1: record('Record1', [field('a', 'int', { default: 0 })]),
  A_INT_B_DINT_RECORD1: record('Record1', [field('a', 'int'), field('b', 'int', { default: 0 })]),
  A_DINT_B_DINT_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', 'int', { default: 0 }),
  ]),
  A_DINT_B_DFIXED_4_BYTES_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', fixed('Fixed', 4)),
  ]),
  A_DINT_B_DFIXED_8_BYTES_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', fixed('Fixed', 8)),
  ]),
  A_DINT_B_DINT_STRING_UNION_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', ['int', 'string'], { default: 0 }),
  ]),
  A_DINT_B_DINT_UNION_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', ['int'], { default: 0 }),
  ]),
  A_DINT_B_DENUM_1_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', enumOf('Enum1', ['A', 'B'])),
  ]),
  A_DINT_B_DENUM_2_RECORD1: record('Record1', [
    field('a', 'int', { default: 0 }),
    field('b', enumOf('Enum2', ['A', 'B'])),
  ]),
  FIXED_4_BYTES: fixed('Fixed', 4),
  FIXED_8_BYTES: fixed('Fixed', 8),
  NS_RECORD1: record('Record1', [
    field('f1', [
      'null',
      { type: 'array', items: record('InnerRecord1', [field('a', 'int')], { namespace: 'ns1' }) },
    ]),
  ]),
  NS_RECORD2: record('Record1', [
    field('f1', [
      'null',
      { type: 'array', items: record('InnerRecord1', [field('a', 'int')], { namespace: 'ns2' }) },
    ]),
  ]),
  INT_LIST_RECORD: record('List', [field('head', 'int'), field('tail', 'List', { default: null })]),
  LONG_LIST_RECORD: record('List', [field('head', 'long'), field('tail', 'List', { default: null })]),
  ENUM_AB_ENUM_DEFAULT_A_RECORD: record('Record', [
    field('Field', enumOf('Schema', ['A', 'B'], { default: 'A' })),
  ]),
  ENUM_ABC_ENUM_DEFAULT_A_RECORD: record('Record', [
    field('Field', enumOf('Schema', ['A', 'B', 'C'], { default: 'A' })),
  ]),
  ENUM_AB_FIELD_DEFAULT_A_ENUM_DEFAULT_B_RECORD: record('Record', [
    field('Field', enumOf('Schema', ['A', 'B'], { default: 'B' }), { default: 'A' }),
  ]),
  ENUM_ABC_FIELD_DEFAULT_B_ENUM_DEFAULT_A_RECORD: record('Record', [
    field('Field', enumOf('Schema', ['A', 'B', 'C'], { default: 'A' }), { default: 'B' }),
  ]),
} as const;
type Name = keyof typeof S;

// The recursive list records need a nullable tail to be valid Avro in avsc (a record cannot default to null).
S.INT_LIST_RECORD.fields[1] = field('tail', ['null', 'List'], { default: null });
S.LONG_LIST_RECORD.fields[1] = field('tail', ['null', 'List'], { default: null });

const COMPATIBLE: Array<[Name, Name]> = [
  ['BOOLEAN', 'BOOLEAN'],
  ['INT', 'INT'],
  ['LONG', 'INT'],
  ['LONG', 'LONG'],
  ['FLOAT', 'INT'],
  ['FLOAT', 'LONG'],
  ['DOUBLE', 'LONG'],
  ['DOUBLE', 'INT'],
  ['DOUBLE', 'FLOAT'],
  ['STRING', 'STRING'],
  ['BYTES', 'BYTES'],
  ['INT_ARRAY', 'INT_ARRAY'],
  ['LONG_ARRAY', 'INT_ARRAY'],
  ['INT_MAP', 'INT_MAP'],
  ['LONG_MAP', 'INT_MAP'],
  ['ENUM1_AB', 'ENUM1_AB'],
  ['ENUM1_ABC', 'ENUM1_AB'],
  ['STRING', 'BYTES'],
  ['BYTES', 'STRING'],
  ['FLOAT_UNION', 'INT_UNION'],
  ['FLOAT_UNION', 'LONG_UNION'],
  ['FLOAT_UNION', 'INT_LONG_UNION'],
  ['INT_UNION', 'INT_UNION'],
  ['INT_STRING_UNION', 'STRING_INT_UNION'],
  ['LONG_UNION', 'INT_UNION'],
  ['DOUBLE_UNION', 'INT_UNION'],
  ['DOUBLE_UNION', 'LONG_UNION'],
  ['DOUBLE_UNION', 'FLOAT_UNION'],
  ['STRING_UNION', 'BYTES_UNION'],
  ['BYTES_UNION', 'STRING_UNION'],
  ['DOUBLE_UNION', 'INT_FLOAT_UNION'],
  ['FLOAT', 'INT_FLOAT_UNION'],
  ['LONG', 'INT_LONG_UNION'],
  ['DOUBLE', 'INT_FLOAT_UNION'],
  ['DOUBLE', 'INT_LONG_FLOAT_DOUBLE_UNION'],
  ['FLOAT', 'FLOAT_UNION'],
  ['INT_UNION', 'INT'],
  ['INT', 'INT_UNION'],
  ['FIXED_4_BYTES', 'FIXED_4_BYTES'],
  ['EMPTY_RECORD1', 'EMPTY_RECORD1'],
  ['EMPTY_RECORD1', 'A_INT_RECORD1'],
  ['A_INT_RECORD1', 'A_INT_RECORD1'],
  ['A_DINT_RECORD1', 'A_INT_RECORD1'],
  ['A_DINT_RECORD1', 'A_DINT_RECORD1'],
  ['A_INT_RECORD1', 'A_DINT_RECORD1'],
  ['A_LONG_RECORD1', 'A_INT_RECORD1'],
  ['A_INT_RECORD1', 'A_INT_B_INT_RECORD1'],
  ['A_DINT_RECORD1', 'A_INT_B_INT_RECORD1'],
  ['A_INT_B_DINT_RECORD1', 'A_INT_RECORD1'],
  ['A_DINT_B_DINT_RECORD1', 'EMPTY_RECORD1'],
  ['A_DINT_B_DINT_RECORD1', 'A_INT_RECORD1'],
  ['A_INT_B_INT_RECORD1', 'A_DINT_B_DINT_RECORD1'],
  ['INT_LIST_RECORD', 'INT_LIST_RECORD'],
  ['LONG_LIST_RECORD', 'LONG_LIST_RECORD'],
  ['LONG_LIST_RECORD', 'INT_LIST_RECORD'],
  ['NULL', 'NULL'],
  ['ENUM_AB_ENUM_DEFAULT_A_RECORD', 'ENUM_ABC_ENUM_DEFAULT_A_RECORD'],
  ['ENUM_AB_FIELD_DEFAULT_A_ENUM_DEFAULT_B_RECORD', 'ENUM_ABC_FIELD_DEFAULT_B_ENUM_DEFAULT_A_RECORD'],
  ['NS_RECORD1', 'NS_RECORD2'],
];

type Expected = [type: string, location: string, message: string];
const tm = (location: string, r: string, w: string): Expected => [
  'TYPE_MISMATCH',
  location,
  `reader type: ${r} not compatible with writer type: ${w}`,
];
const mub = (location: string, w: string): Expected => [
  'MISSING_UNION_BRANCH',
  location,
  `reader union lacking writer type: ${w}`,
];

const INCOMPATIBLE: Array<[Name, Name, Expected[]]> = [
  ['INT', 'STRING', [tm('/', 'INT', 'STRING')]],
  ['STRING_MAP', 'STRING_ARRAY', [tm('/', 'MAP', 'ARRAY')]],
  ['NULL', 'INT', [tm('/', 'NULL', 'INT')]],
  ['NULL', 'LONG', [tm('/', 'NULL', 'LONG')]],
  ['BOOLEAN', 'INT', [tm('/', 'BOOLEAN', 'INT')]],
  ['INT', 'NULL', [tm('/', 'INT', 'NULL')]],
  ['INT', 'BOOLEAN', [tm('/', 'INT', 'BOOLEAN')]],
  ['INT', 'LONG', [tm('/', 'INT', 'LONG')]],
  ['INT', 'FLOAT', [tm('/', 'INT', 'FLOAT')]],
  ['INT', 'DOUBLE', [tm('/', 'INT', 'DOUBLE')]],
  ['LONG', 'FLOAT', [tm('/', 'LONG', 'FLOAT')]],
  ['LONG', 'DOUBLE', [tm('/', 'LONG', 'DOUBLE')]],
  ['FLOAT', 'DOUBLE', [tm('/', 'FLOAT', 'DOUBLE')]],
  ['DOUBLE', 'STRING', [tm('/', 'DOUBLE', 'STRING')]],
  ['FIXED_4_BYTES', 'STRING', [tm('/', 'FIXED', 'STRING')]],
  ['STRING', 'BOOLEAN', [tm('/', 'STRING', 'BOOLEAN')]],
  ['STRING', 'INT', [tm('/', 'STRING', 'INT')]],
  ['BYTES', 'NULL', [tm('/', 'BYTES', 'NULL')]],
  ['BYTES', 'INT', [tm('/', 'BYTES', 'INT')]],
  ['A_INT_RECORD1', 'INT', [tm('/', 'RECORD', 'INT')]],
  ['INT_ARRAY', 'LONG_ARRAY', [tm('/items', 'INT', 'LONG')]],
  ['INT_MAP', 'INT_ARRAY', [tm('/', 'MAP', 'ARRAY')]],
  ['INT_ARRAY', 'INT_MAP', [tm('/', 'ARRAY', 'MAP')]],
  ['INT_MAP', 'LONG_MAP', [tm('/values', 'INT', 'LONG')]],
  ['INT', 'ENUM2_AB', [tm('/', 'INT', 'ENUM')]],
  ['ENUM2_AB', 'INT', [tm('/', 'ENUM', 'INT')]],
  ['FLOAT', 'INT_LONG_FLOAT_DOUBLE_UNION', [tm('/3', 'FLOAT', 'DOUBLE')]],
  ['LONG', 'INT_FLOAT_UNION', [tm('/1', 'LONG', 'FLOAT')]],
  ['INT', 'INT_FLOAT_UNION', [tm('/1', 'INT', 'FLOAT')]],
  ['INT_LIST_RECORD', 'LONG_LIST_RECORD', [tm('/fields/0/type', 'INT', 'LONG')]],
  ['ENUM1_AB', 'ENUM2_AB', [['NAME_MISMATCH', '/name', 'expected: Enum2']]],
  ['EMPTY_RECORD2', 'EMPTY_RECORD1', [['NAME_MISMATCH', '/name', 'expected: Record1']]],
  [
    'A_DINT_B_DENUM_1_RECORD1',
    'A_DINT_B_DENUM_2_RECORD1',
    [['NAME_MISMATCH', '/fields/1/type/name', 'expected: Enum2']],
  ],
  ['FIXED_4_BYTES', 'FIXED_8_BYTES', [['FIXED_SIZE_MISMATCH', '/size', 'expected: 8, found: 4']]],
  ['FIXED_8_BYTES', 'FIXED_4_BYTES', [['FIXED_SIZE_MISMATCH', '/size', 'expected: 4, found: 8']]],
  [
    'A_DINT_B_DFIXED_8_BYTES_RECORD1',
    'A_DINT_B_DFIXED_4_BYTES_RECORD1',
    [['FIXED_SIZE_MISMATCH', '/fields/1/type/size', 'expected: 4, found: 8']],
  ],
  ['ENUM1_AB', 'ENUM1_ABC', [['MISSING_ENUM_SYMBOLS', '/symbols', '[C]']]],
  ['ENUM1_BC', 'ENUM1_ABC', [['MISSING_ENUM_SYMBOLS', '/symbols', '[A]']]],
  ['A_INT_RECORD1', 'EMPTY_RECORD1', [['READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/0', 'a']]],
  ['A_INT_B_DINT_RECORD1', 'EMPTY_RECORD1', [['READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/0', 'a']]],
  ['INT_UNION', 'INT_STRING_UNION', [mub('/1', 'STRING')]],
  ['STRING_UNION', 'INT_STRING_UNION', [mub('/0', 'INT')]],
  ['INT_UNION', 'LONG_UNION', [mub('/0', 'LONG')]],
  ['INT_UNION', 'FLOAT_UNION', [mub('/0', 'FLOAT')]],
  ['INT_UNION', 'DOUBLE_UNION', [mub('/0', 'DOUBLE')]],
  ['INT_UNION', 'BYTES_UNION', [mub('/0', 'BYTES')]],
  ['INT_UNION', 'INT_LONG_FLOAT_DOUBLE_UNION', [mub('/1', 'LONG'), mub('/2', 'FLOAT'), mub('/3', 'DOUBLE')]],
  ['A_DINT_B_DINT_UNION_RECORD1', 'A_DINT_B_DINT_STRING_UNION_RECORD1', [mub('/fields/1/type/1', 'STRING')]],
  ['INT_STRING_UNION', 'INT_LONG_UNION', [mub('/1', 'LONG')]],
];

const summary = (reader: unknown, writer: unknown) =>
  avroIncompatibilities(parse(reader).avro, parse(writer).avro).map((i) => [i.type, i.location, i.message]);

describe('Avro reader/writer compatibility (Apache Avro Java semantics)', () => {
  it.each(COMPATIBLE)('%s reads %s', (reader, writer) => {
    expect(summary(S[reader], S[writer])).toEqual([]);
  });

  it.each(INCOMPATIBLE)('%s cannot read %s', (reader, writer, expected) => {
    expect(summary(S[reader], S[writer])).toEqual(expected);
  });

  const unionWith = (second: unknown) => ['int', second];
  it.each([
    ['Record1', record('Record1', [field('field1', 'int')]), 'RECORD'],
    ['Record2', record('Record2', [field('field1', 'int')]), 'RECORD'],
    ['Enum1', S.ENUM1_AB, 'ENUM'],
    ['Fixed', S.FIXED_4_BYTES, 'FIXED'],
    ['boolean', 'boolean', 'BOOLEAN'],
    ['array', S.INT_ARRAY, 'ARRAY'],
    ['map', S.INT_MAP, 'MAP'],
    ['null', 'null', 'NULL'],
  ])('a reader [int] misses the writer union branch %s', (_name, second, kind) => {
    expect(summary(['int'], unionWith(second))).toEqual([mub('/1', kind)]);
  });

  it('a union of differently named records reports only the missing branch, not the name', () => {
    const r = ['int', record('Record1', [field('field1', 'int')])];
    const w = ['int', record('Record2', [field('field1', 'int')])];
    expect(summary(r, w)).toEqual([mub('/1', 'RECORD')]);
  });

  it('reports every incompatibility of a deep record in order (TestSchemaCompatibilityMultiple)', () => {
    const reader = record('base', [
      field('check_enum_symbols_field', enumOf('check_enum_symbols_type', ['A', 'C'])),
      field('check_enum_name_field', enumOf('check_enum_name_type', ['A', 'B', 'C', 'D'])),
      field('type_mismatch_field', 'string'),
      field(
        'sub_record',
        record('sub_record_type', [
          field('identical_1_field', 'long', { default: 42 }),
          field('extra_no_default_field', 'long'),
          field('fixed_length_mismatch_field', fixed('fixed_length_mismatch_type', 4)),
          field('union_missing_branches_field', ['boolean']),
          field('reader_union_does_not_support_type_field', ['boolean']),
          field(
            'record_fqn_mismatch_field',
            record(
              'recordA',
              [
                field('A_field_0', 'boolean', { default: true }),
                field('array_type_mismatch_field', { type: 'array', items: 'string' }),
              ],
              { namespace: 'not_nsA' },
            ),
          ),
        ]),
      ),
    ]);
    const writer = record('base', [
      field('check_enum_symbols_field', enumOf('check_enum_symbols_type', ['A', 'B', 'C', 'D'])),
      field('check_enum_name_field', enumOf('check_enum_name_type_ERR', ['A', 'B', 'C', 'D'])),
      field('type_mismatch_field', 'long'),
      field(
        'sub_record',
        record('sub_record_type', [
          field('identical_1_field', 'long', { default: 42 }),
          field('fixed_length_mismatch_field', fixed('fixed_length_mismatch_type', 8)),
          field('union_missing_branches_field', ['boolean', 'double', 'string']),
          field('reader_union_does_not_support_type_field', 'long'),
          field(
            'record_fqn_mismatch_field',
            record(
              'recordA',
              [
                field('A_field_0', 'boolean', { default: true }),
                field('array_type_mismatch_field', { type: 'array', items: 'boolean' }),
              ],
              { namespace: 'nsA' },
            ),
          ),
        ]),
      ),
    ]);
    expect(summary(reader, writer)).toEqual([
      ['MISSING_ENUM_SYMBOLS', '/fields/0/type/symbols', '[B, D]'],
      ['NAME_MISMATCH', '/fields/1/type/name', 'expected: check_enum_name_type_ERR'],
      tm('/fields/2/type', 'STRING', 'LONG'),
      ['READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/3/type/fields/1', 'extra_no_default_field'],
      ['FIXED_SIZE_MISMATCH', '/fields/3/type/fields/2/type/size', 'expected: 8, found: 4'],
      mub('/fields/3/type/fields/3/type/1', 'DOUBLE'),
      mub('/fields/3/type/fields/3/type/2', 'STRING'),
      mub('/fields/3/type/fields/4/type', 'LONG'),
      tm('/fields/3/type/fields/5/type/fields/1/type/items', 'STRING', 'BOOLEAN'),
    ]);
  });

  it('an enum default reads unknown symbols; a field default does not', () => {
    const readerWithEnumDefault = record('Record1', [
      field('field1', enumOf('Enum', ['A', 'B'], { default: 'A' })),
    ]);
    const writer = record('Record1', [field('field1', enumOf('Enum', ['A', 'B', 'C'], { default: 'A' }))]);
    expect(summary(readerWithEnumDefault, writer)).toEqual([]);
    const readerWithFieldDefault = record('Record1', [
      field('field1', enumOf('Enum1', ['A', 'B']), { default: 'A' }),
    ]);
    const writer1 = record('Record1', [field('field1', enumOf('Enum1', ['A', 'B', 'C']))]);
    expect(summary(readerWithFieldDefault, writer1)).toEqual([
      ['MISSING_ENUM_SYMBOLS', '/fields/0/type/symbols', '[C]'],
    ]);
  });

  it('a missing field whose enum has a default is compared with the writer record, as Avro does', () => {
    const reader = record('Record1', [field('field1', enumOf('Enum', ['A', 'B'], { default: 'A' }))]);
    const writer = record('Record1', [field('field2', enumOf('Enum2', ['A', 'B']))]);
    expect(summary(reader, writer)).toEqual([tm('/fields/0/type', 'ENUM', 'RECORD')]);
  });

  it('matches fields through reader aliases and names through reader type aliases', () => {
    const writer = record('myrecord', [field('f1', 'string')]);
    expect(summary(record('myrecord', [field('f1_new', 'string', { aliases: ['f1'] })]), writer)).toEqual([]);
    expect(summary(record('renamed', [field('f1', 'string')], { aliases: ['myrecord'] }), writer)).toEqual(
      [],
    );
    expect(summary(record('renamed', [field('f1', 'string')]), writer)).toEqual([
      ['NAME_MISMATCH', '/name', 'expected: myrecord'],
    ]);
  });

  it('ignores namespaces, docs, field order and logical types, as Java does', () => {
    const writer = record(
      'R',
      [field('a', 'int'), field('b', { type: 'long', logicalType: 'timestamp-millis' })],
      {
        namespace: 'one',
      },
    );
    const reader = record('R', [field('b', 'long', { doc: 'when' }), field('a', 'int')], {
      namespace: 'two',
      doc: 'x',
    });
    expect(summary(reader, writer)).toEqual([]);
  });
});

describe('Avro compatibility levels (Confluent AvroCompatibilityTest)', () => {
  const s1 = record('myrecord', [field('f1', 'string')]);
  const s2 = record('myrecord', [field('f1', 'string'), field('f2', 'string', { default: 'foo' })]);
  const s3 = record('myrecord', [field('f1', 'string'), field('f2', 'string')]);
  const s4 = record('myrecord', [field('f1_new', 'string', { aliases: ['f1'] })]);
  const s6 = record('myrecord', [field('f1', ['null', 'string'], { doc: 'doc of f1' })]);
  const s7 = record('myrecord', [field('f1', ['null', 'string', 'int'], { doc: 'doc of f1' })]);
  const s8 = record('myrecord', [
    field('f1', 'string'),
    field('f2', 'string', { default: 'foo' }),
    field('f3', 'string', { default: 'bar' }),
  ]);
  const check = (level: CompatibilityLevel, candidate: unknown, previous: unknown[]) =>
    checkCompatibility(
      level,
      parse(candidate),
      previous.map((p, i) => ({ version: i + 1, schema: parse(p) })),
    );

  it.each([
    ['BACKWARD', s2, [s1], true],
    ['BACKWARD', s3, [s1], false],
    ['BACKWARD', s4, [s1], true],
    ['BACKWARD', s6, [s1], true],
    ['BACKWARD', s1, [s6], false],
    ['BACKWARD', s7, [s6], true],
    ['BACKWARD', s6, [s7], false],
    ['BACKWARD', s3, [s1, s2], true],
    ['BACKWARD_TRANSITIVE', s8, [s1, s2], true],
    ['BACKWARD_TRANSITIVE', s2, [s1], true],
    ['BACKWARD_TRANSITIVE', s3, [s2], true],
    ['BACKWARD_TRANSITIVE', s3, [s2, s1], false],
    ['FORWARD', s2, [s1], true],
    ['FORWARD', s3, [s1], true],
    ['FORWARD', s3, [s2], true],
    ['FORWARD', s2, [s3], true],
    ['FORWARD', s1, [s3, s2], true],
    ['FORWARD_TRANSITIVE', s1, [s8, s2], true],
    ['FORWARD_TRANSITIVE', s2, [s3], true],
    ['FORWARD_TRANSITIVE', s1, [s2], true],
    ['FORWARD_TRANSITIVE', s1, [s2, s3], false],
    ['FULL', s2, [s1], true],
    ['FULL', s3, [s1, s2], true],
    ['FULL', s1, [s3, s2], true],
    ['FULL_TRANSITIVE', s8, [s1, s2], true],
    ['FULL_TRANSITIVE', s1, [s8, s2], true],
    ['FULL_TRANSITIVE', s2, [s3], true],
    ['FULL_TRANSITIVE', s1, [s2], true],
    ['FULL_TRANSITIVE', s2, [s1], true],
    ['FULL_TRANSITIVE', s3, [s2], true],
    ['FULL_TRANSITIVE', s3, [s2, s1], false],
    ['FULL_TRANSITIVE', s1, [s2, s3], false],
    ['NONE', s3, [s1], true],
  ] as Array<[CompatibilityLevel, unknown, unknown[], boolean]>)(
    '%s: case %#',
    (level, candidate, previous, ok) => {
      expect(check(level, candidate, previous).length === 0).toBe(ok);
    },
  );

  it('words the messages as Confluent does, with labels by direction', () => {
    expect(check('BACKWARD', s3, [s1])).toEqual([
      "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'f2' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'f2'}",
      '{oldSchemaVersion: 1}',
      `{oldSchema: '${parse(s1).canonical}'}`,
      "{validateFields: 'false', compatibility: 'BACKWARD'}",
    ]);
    expect(check('FORWARD_TRANSITIVE', s1, [s2, s3])[0]).toBe(
      "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'f2' at path '/fields/1' in the old schema has no default value and is missing in the new schema', additionalInfo:'f2'}",
    );
    expect(check('BACKWARD', s1, [s6])[0]).toBe(
      "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type/0') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: STRING not compatible with writer type: NULL'}",
    );
    // A transitive failure names the version it failed against.
    expect(check('BACKWARD_TRANSITIVE', s3, [s1, s2])).toContain('{oldSchemaVersion: 1}');
  });

  it('FULL lists what the old schema cannot read first and quotes the old schema once', () => {
    const old = record('myrecord', [field('f1', 'int')]);
    const messages = check('FULL', record('myrecord', [field('f1', 'string')]), [old]);
    expect(messages).toEqual([
      "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the old schema does not match with the new schema', additionalInfo:'reader type: INT not compatible with writer type: STRING'}",
      "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: STRING not compatible with writer type: INT'}",
      '{oldSchemaVersion: 1}',
      `{oldSchema: '${parse(old).canonical}'}`,
      "{validateFields: 'false', compatibility: 'FULL'}",
    ]);
  });
});

describe('Avro canonical text', () => {
  it('is the same for the same schema written in another layout or key order', () => {
    const a = parse({ type: 'record', name: 'R', namespace: 'n', fields: [{ name: 'a', type: 'int' }] });
    const b = avroProvider.parse(
      '{ "fields": [ {"type":"int", "name":"a"} ],\n "namespace":"n", "name":"R", "type":"record" }',
      [],
    );
    expect(b.canonical).toBe(a.canonical);
    expect(a.canonical).toBe(
      '{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":"int"}]}',
    );
  });

  it('writes a named type once and by relative name after that', () => {
    const inner = { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }] };
    const schema = parse({
      type: 'record',
      name: 'Outer',
      namespace: 'com.acme',
      fields: [
        { name: 'a', type: inner },
        { name: 'b', type: 'com.acme.Inner' },
        { name: 'c', type: { type: 'fixed', name: 'other.F', size: 2 } },
        { name: 'd', type: 'other.F' },
      ],
    });
    expect(JSON.parse(schema.canonical).fields.map((f: { type: unknown }) => f.type)).toEqual([
      { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }] },
      'Inner',
      { type: 'fixed', name: 'F', namespace: 'other', size: 2 },
      'other.F',
    ]);
  });

  it('keeps docs, defaults, order, aliases and custom properties', () => {
    const schema = parse({
      type: 'record',
      name: 'R',
      doc: 'a record',
      aliases: ['Old'],
      'x-owner': 'team-a',
      fields: [
        {
          name: 'a',
          type: { type: 'long', logicalType: 'timestamp-millis' },
          default: 0,
          order: 'descending',
        },
      ],
    });
    expect(schema.canonical).toBe(
      '{"type":"record","name":"R","doc":"a record","fields":[{"name":"a","type":{"type":"long","logicalType":"timestamp-millis"},"default":0,"order":"descending"}],"x-owner":"team-a","aliases":["Old"]}',
    );
  });
});
