import { describe, expect, it } from 'vitest';
import {
  checkCompatibility,
  decodeMessageIndexes,
  encodeMessageIndexes,
  type ProtobufSchema,
  protobufProvider,
  type ResolvedReference,
} from '../../src/registry/index.ts';
import { COMPATIBLE_PROTO_CHANGES, protoDiff } from '../../src/registry/protobuf/proto-diff.ts';

// Original (writer) → update (reader) cases after Confluent's protobuf-provider test vectors
// (diff-schema-examples.json), asserting its differences and verdicts. Differences compare as sets.

const P3 = 'syntax = "proto3";\n';
const P2 = 'syntax = "proto2";\n';
const parse = (text: string, refs: ResolvedReference[] = []) =>
  protobufProvider.parse(text, refs) as ProtobufSchema;
const diff = (o: ProtobufSchema, u: ProtobufSchema) =>
  protoDiff(o.table, u.table)
    .map((d) => `${d.type} ${d.path}`)
    .sort();
const compatible = (o: ProtobufSchema, u: ProtobufSchema) =>
  protoDiff(o.table, u.table).every((d) => COMPATIBLE_PROTO_CHANGES.has(d.type));

type Case = [name: string, original: string, update: string, changes: string[], compatible: boolean];

const msg = (body: string, extra = '') => `${P3}message TestMessage { ${body} }${extra}`;
const STATUS_ENUM = ' enum Status { ACTIVE = 0; INACTIVE = 1; }';

const CASES: Case[] = [
  [
    'package change',
    `${P3}package foo; message TestMessage { string test_string = 1; .foo.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }`,
    `${P3}package bar; message TestMessage { string test_string = 1; .bar.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }`,
    ['PACKAGE_CHANGED #/'],
    false,
  ],
  [
    'name qualification',
    msg('string test_string = 1; Status test_int = 2; message Status { string test_string = 1; }'),
    msg(
      'string test_string = 1; .TestMessage.Status test_int = 2; message Status { string test_string = 1; }',
    ),
    [],
    true,
  ],
  [
    'name qualification with a package',
    `${P3}package foo; message TestMessage { string test_string = 1; Status test_int = 2; message Status { string test_string = 1; } }`,
    `${P3}package foo; message TestMessage { string test_string = 1; .foo.TestMessage.Status test_int = 2; message Status { string test_string = 1; } }`,
    [],
    true,
  ],
  [
    'added field',
    msg('string test_string = 1;'),
    msg('string test_string = 1; string test_string2 = 2;'),
    ['FIELD_ADDED #/TestMessage/2'],
    true,
  ],
  [
    'added required field',
    `${P2}message TestMessage { optional string test_string = 1; }`,
    `${P2}message TestMessage { optional string test_string = 1; required string test_string2 = 2; }`,
    ['REQUIRED_FIELD_ADDED #/TestMessage/2'],
    false,
  ],
  [
    'added field to a nested type',
    `${P3}message Wrapper { int32 wrapperInt = 1; message TestMessage { string test_string = 1; } }`,
    `${P3}message Wrapper { int32 wrapperInt = 1; message TestMessage { string test_string = 1; string test_string2 = 2; } }`,
    ['FIELD_ADDED #/Wrapper/TestMessage/2'],
    true,
  ],
  [
    'removed field',
    msg('string test_string = 1; string test_string2 = 2;'),
    msg('string test_string = 1;'),
    ['FIELD_REMOVED #/TestMessage/2'],
    true,
  ],
  [
    'removed required field',
    `${P2}message TestMessage { optional string test_string = 1; required string test_string2 = 2; }`,
    `${P2}message TestMessage { optional string test_string = 1; }`,
    ['REQUIRED_FIELD_REMOVED #/TestMessage/2'],
    false,
  ],
  [
    'changed field number',
    msg('string test_string = 1;'),
    msg('string test_string = 2;'),
    ['FIELD_ADDED #/TestMessage/2', 'FIELD_REMOVED #/TestMessage/1'],
    true,
  ],
  [
    'int32 to int64',
    msg('string test_string = 1; int32 test_int = 2;'),
    msg('string test_string = 1; int64 test_int = 2;'),
    [],
    true,
  ],
  [
    'string to bytes',
    msg('string test_string = 1; string test_string2 = 2;'),
    msg('string test_string = 1; bytes test_string2 = 2;'),
    [],
    true,
  ],
  [
    'number to enum',
    msg('string test_string = 1; int32 test_int = 2;'),
    msg('string test_string = 1; Status test_int = 2;', STATUS_ENUM),
    ['ENUM_ADDED #/Status'],
    true,
  ],
  [
    'enum to number',
    msg('string test_string = 1; Status test_int = 2;', STATUS_ENUM),
    msg('string test_string = 1; int32 test_int = 2;'),
    ['ENUM_REMOVED #/Status'],
    true,
  ],
  [
    'number to a message named like an enum',
    msg('string test_string = 1; int32 test_int = 2;'),
    msg(
      'string test_string = 1; .TestMessage.Status test_int = 2; message Status { string test_string = 1; }',
      STATUS_ENUM,
    ),
    ['ENUM_ADDED #/Status', 'FIELD_KIND_CHANGED #/TestMessage/2', 'MESSAGE_ADDED #/TestMessage/Status'],
    false,
  ],
  [
    'message named like an enum to number',
    msg(
      'string test_string = 1; .TestMessage.Status test_int = 2; message Status { string test_string = 1; }',
      STATUS_ENUM,
    ),
    msg('string test_string = 1; int32 test_int = 2;'),
    ['ENUM_REMOVED #/Status', 'FIELD_KIND_CHANGED #/TestMessage/2', 'MESSAGE_REMOVED #/TestMessage/Status'],
    false,
  ],
  [
    'enum constant renamed',
    msg('string test_string = 1; Status test_int = 2;', STATUS_ENUM),
    msg('string test_string = 1; Status test_int = 2;', ' enum Status { ACTIVE = 0; NOT_ACTIVE = 1; }'),
    ['ENUM_CONST_CHANGED #/Status/1'],
    true,
  ],
  [
    'field moved into a new oneof with a new field',
    msg('string test_string = 1; string test_string2 = 2;'),
    msg('string test_string = 1; oneof new_oneof { string test_string2 = 2; int32 other_id = 3; }'),
    ['ONEOF_ADDED #/TestMessage/new_oneof'],
    true,
  ],
  [
    'two fields moved into a oneof',
    msg('string test_string = 1; string test_string2 = 2;'),
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; }'),
    ['MULTIPLE_FIELDS_MOVED_TO_ONEOF #/TestMessage/new_oneof', 'ONEOF_ADDED #/TestMessage/new_oneof'],
    false,
  ],
  [
    'field added to a oneof',
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; }'),
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; }'),
    ['ONEOF_FIELD_ADDED #/TestMessage/new_oneof/3'],
    true,
  ],
  [
    'field removed from a oneof',
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; int32 other_id = 3; }'),
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; }'),
    ['ONEOF_FIELD_REMOVED #/TestMessage/new_oneof/3'],
    false,
  ],
  [
    'one field moved into a new oneof',
    msg('string test_string = 1; string test_string2 = 2;'),
    msg('string test_string = 1; oneof new_oneof { string test_string2 = 2; }'),
    ['ONEOF_ADDED #/TestMessage/new_oneof'],
    true,
  ],
  [
    'field moved into an existing oneof',
    msg('string test_string = 1; oneof new_oneof { string test_string2 = 2; string test_string3 = 3; }'),
    msg('oneof new_oneof { string test_string = 1; string test_string2 = 2; string test_string3 = 3; }'),
    ['FIELD_MOVED_TO_EXISTING_ONEOF #/TestMessage/new_oneof', 'ONEOF_FIELD_ADDED #/TestMessage/new_oneof/1'],
    false,
  ],
  [
    'field moved into a renamed oneof',
    msg('string test_string = 1; oneof new_oneof { string test_string2 = 2; string test_string3 = 3; }'),
    msg('oneof new_oneof_2 { string test_string = 1; string test_string2 = 2; string test_string3 = 3; }'),
    [
      'FIELD_MOVED_TO_EXISTING_ONEOF #/TestMessage/new_oneof_2',
      'ONEOF_ADDED #/TestMessage/new_oneof_2',
      'ONEOF_REMOVED #/TestMessage/new_oneof',
    ],
    false,
  ],
  [
    'number to message',
    msg('string test_string = 1; int32 test_int = 2;'),
    msg('string test_string = 1; TestMessage2 test_int = 2;', ' message TestMessage2 { string s1 = 1; }'),
    ['FIELD_KIND_CHANGED #/TestMessage/2', 'MESSAGE_ADDED #/TestMessage2'],
    false,
  ],
  [
    'number to string, renamed',
    msg('string test_string = 1; int32 test_int = 2;'),
    msg('string test_string = 1; string test_string2 = 2;'),
    ['FIELD_NAME_CHANGED #/TestMessage/2', 'FIELD_SCALAR_KIND_CHANGED #/TestMessage/2'],
    false,
  ],
  [
    'message type replaced',
    msg('string test_string = 1; TestMessage2 test_int = 2;', ' message TestMessage2 { string s1 = 1; }'),
    msg('string test_string = 1; TestMessage3 test_int = 2;', ' message TestMessage3 { string s1 = 1; }'),
    [
      'FIELD_NAMED_TYPE_CHANGED #/TestMessage/2',
      'MESSAGE_ADDED #/TestMessage3',
      'MESSAGE_REMOVED #/TestMessage2',
    ],
    false,
  ],
  [
    'map value type changed',
    msg('string test_string = 1; map<string, int32> test_map_int = 2;'),
    msg('string test_string = 1; map<string, string> test_map_string = 2;'),
    ['FIELD_NAME_CHANGED #/TestMessage/2', 'FIELD_SCALAR_KIND_CHANGED #/TestMessage/2'],
    false,
  ],
  [
    'name qualification in a map',
    msg(
      'string test_string = 1; map<string, Status> test_map = 2; message Status { string test_string = 1; }',
    ),
    msg(
      'string test_string = 1; map<string, TestMessage.Status> test_map = 2; message Status { string test_string = 1; }',
    ),
    [],
    true,
  ],
  [
    'message field made repeated',
    msg(
      'string test_string = 1; optional Status test_status = 2; message Status { string test_string = 1; }',
    ),
    msg(
      'string test_string = 1; repeated Status test_status = 2; message Status { string test_string = 1; }',
    ),
    [],
    true,
  ],
  [
    'optional string made repeated',
    msg('optional string test_string = 1;'),
    msg('repeated string test_string = 1;'),
    ['FIELD_STRING_OR_BYTES_LABEL_CHANGED #/TestMessage/1'],
    true,
  ],
  [
    'optional bytes made repeated',
    msg('optional bytes test_bytes = 1;'),
    msg('repeated bytes test_bytes = 1;'),
    ['FIELD_STRING_OR_BYTES_LABEL_CHANGED #/TestMessage/1'],
    true,
  ],
  [
    'optional number made repeated',
    msg('optional int32 test_int = 1;'),
    msg('repeated int32 test_int = 1;'),
    ['FIELD_NUMERIC_LABEL_CHANGED #/TestMessage/1'],
    false,
  ],
  [
    'message added',
    msg('string test_string = 1;'),
    `${msg('string test_string = 1;')} message TestMessage2 { string test_string = 1; }`,
    ['MESSAGE_ADDED #/TestMessage2'],
    true,
  ],
  [
    'message added before',
    msg('string test_string = 1;'),
    `${P3}message TestMessage2 { string test_string = 1; } message TestMessage { string test_string = 1; }`,
    ['MESSAGE_ADDED #/TestMessage2', 'MESSAGE_MOVED #/TestMessage'],
    true,
  ],
  [
    'messages swapped',
    `${P3}message TestMessage { string test_string = 1; } message TestMessage2 { string test_string = 1; }`,
    `${P3}message TestMessage2 { string test_string = 1; } message TestMessage { string test_string = 1; }`,
    ['MESSAGE_MOVED #/TestMessage', 'MESSAGE_MOVED #/TestMessage2'],
    true,
  ],
  [
    'int32 to sint32',
    msg('int32 a = 1;'),
    msg('sint32 a = 1;'),
    ['FIELD_SCALAR_KIND_CHANGED #/TestMessage/1'],
    false,
  ],
  ['sint32 to sint64', msg('sint32 a = 1;'), msg('sint64 a = 1;'), [], true],
  [
    'fixed32 to sfixed32 and fixed64 to sfixed64',
    msg('fixed32 a = 1; fixed64 b = 2;'),
    msg('sfixed32 a = 1; sfixed64 b = 2;'),
    [],
    true,
  ],
  [
    'fixed32 to fixed64',
    msg('fixed32 a = 1;'),
    msg('fixed64 a = 1;'),
    ['FIELD_SCALAR_KIND_CHANGED #/TestMessage/1'],
    false,
  ],
  [
    'float to double',
    msg('float a = 1;'),
    msg('double a = 1;'),
    ['FIELD_SCALAR_KIND_CHANGED #/TestMessage/1'],
    false,
  ],
  ['int32 to bool', msg('int32 a = 1;'), msg('bool a = 1;'), [], true],
  [
    'enum to string',
    msg('Status a = 1;', STATUS_ENUM),
    msg('string a = 1;', STATUS_ENUM),
    ['FIELD_SCALAR_KIND_CHANGED #/TestMessage/1'],
    false,
  ],
  ['proto3 singular made repeated', msg('int32 a = 1;'), msg('repeated int32 a = 1;'), [], true],
  [
    'proto2 optional made required',
    `${P2}message M { optional int32 a = 1; }`,
    `${P2}message M { required int32 a = 1; }`,
    ['FIELD_NUMERIC_LABEL_CHANGED #/M/1'],
    false,
  ],
  [
    'proto2 optional string made required',
    `${P2}message M { optional string a = 1; }`,
    `${P2}message M { required string a = 1; }`,
    ['FIELD_STRING_OR_BYTES_LABEL_CHANGED #/M/1'],
    true,
  ],
  [
    'oneof renamed with a type change inside',
    `${P3}message M { oneof o { int32 a = 1; } }`,
    `${P3}message M { oneof p { string a = 1; } }`,
    ['ONEOF_ADDED #/M/p', 'ONEOF_REMOVED #/M/o'],
    true,
  ],
  [
    'field removed beside a oneof',
    `${P3}message M { string x = 1; oneof o { int32 a = 2; } }`,
    `${P3}message M { oneof o { int32 a = 2; } }`,
    ['FIELD_REMOVED #/M/1'],
    true,
  ],
  [
    'oneof removed with its members',
    `${P3}message M { oneof o { int32 a = 1; int32 b = 2; } }`,
    `${P3}message M { }`,
    ['ONEOF_REMOVED #/M/o'],
    true,
  ],
  [
    'map to a repeated entry message',
    `${P3}message M { map<string, int32> m = 1; }`,
    `${P3}message M { repeated MEntry m = 1; } message MEntry { string key = 1; int32 value = 2; }`,
    ['FIELD_KIND_CHANGED #/M/1', 'MESSAGE_ADDED #/MEntry'],
    false,
  ],
  [
    'map key type changed',
    `${P3}message M { map<string, int32> m = 1; }`,
    `${P3}message M { map<int64, int32> m = 1; }`,
    ['FIELD_SCALAR_KIND_CHANGED #/M/1'],
    false,
  ],
  [
    'proto2 to proto3',
    `${P2}message M { optional int32 a = 1; }`,
    `${P3}message M { int32 a = 1; }`,
    [],
    true,
  ],
  [
    'enum constant removed',
    `${P3}enum E { A = 0; B = 1; }`,
    `${P3}enum E { A = 0; }`,
    ['ENUM_CONST_REMOVED #/E/1'],
    true,
  ],
  [
    'nested message renamed',
    `${P3}message Outer { message In { int32 a = 1; } }`,
    `${P3}message Outer { message In2 { int32 a = 1; } }`,
    ['MESSAGE_ADDED #/Outer/In2', 'MESSAGE_REMOVED #/Outer/In'],
    false,
  ],
  [
    'well-known types need no reference',
    `${P3}import "google/protobuf/timestamp.proto"; message M { google.protobuf.Timestamp at = 1; }`,
    `${P3}import "google/protobuf/timestamp.proto"; message M { .google.protobuf.Timestamp at = 1; string note = 2; }`,
    ['FIELD_ADDED #/M/2'],
    true,
  ],
];

const google = (pkg: string, deviceType = 'int32', nested = false) =>
  `${P3}package ${pkg};\noption java_outer_classname = "GoogleImpl";\n${
    nested
      ? `message outer { message GoogleHome { ${deviceType} deviceID = 1; bool enabled = 2; } }`
      : `message GoogleHome { ${deviceType} deviceID = 1; bool enabled = 2; }`
  }`;
const withImport = (file: string, type: string) =>
  `${P3}import "${file}";\nmessage TestMessage { ${type} test_string = 1; }`;
const ref = (name: string, schema: string, subject = name, version = 1): ResolvedReference => ({
  name,
  schema,
  references: [],
  subject,
  version,
});

describe('Protobuf compatibility (Confluent semantics)', () => {
  it.each(CASES)('%s', (_name, original, update, changes, ok) => {
    const o = parse(original);
    const u = parse(update);
    expect(diff(o, u)).toEqual([...changes].sort());
    expect(compatible(o, u)).toBe(ok);
  });

  it('compares an imported type whose file changed', () => {
    const o = parse(withImport('google.proto', '.io.confluent.cloud.demo.domain.GoogleHome'), [
      ref('google.proto', google('io.confluent.cloud.demo.domain')),
    ]);
    const u = parse(withImport('google2.proto', '.io.confluent.cloud.demo.domain.GoogleHome'), [
      ref('google2.proto', google('io.confluent.cloud.demo.domain', 'string')),
    ]);
    expect(diff(o, u)).toEqual([
      'FIELD_NAMED_TYPE_CHANGED #/TestMessage/1',
      'FIELD_SCALAR_KIND_CHANGED #/GoogleHome/1',
    ]);
    expect(compatible(o, u)).toBe(false);
  });

  it('accepts an imported type moved to another package with the same content', () => {
    const o = parse(withImport('google.proto', '.io.confluent.cloud.demo.domain.outer.GoogleHome'), [
      ref('google.proto', google('io.confluent.cloud.demo.domain', 'int32', true)),
    ]);
    const same = parse(withImport('google2.proto', '.io.confluent.cloud.demo.domain2.outer.GoogleHome'), [
      ref('google2.proto', google('io.confluent.cloud.demo.domain2', 'int32', true)),
    ]);
    expect(diff(o, same)).toEqual([]);
    const changed = parse(withImport('google.proto', '.io.confluent.cloud.demo.domain2.outer.GoogleHome'), [
      ref('google.proto', google('io.confluent.cloud.demo.domain2', 'string', true), 'google.proto', 3),
    ]);
    expect(diff(o, changed)).toEqual([
      'FIELD_NAMED_TYPE_CHANGED #/TestMessage/1',
      'FIELD_SCALAR_KIND_CHANGED #/outer/GoogleHome/1',
    ]);
  });

  it('treats moving a message into an import as removing it, and out of one as adding it', () => {
    const local = parse(
      `${P3}message TestMessage { GoogleHome test_string = 1; } message GoogleHome { int32 deviceID = 1; bool enabled = 2; }`,
    );
    const imported = parse(withImport('google.proto', '.io.confluent.cloud.demo.domain.GoogleHome'), [
      ref('google.proto', google('io.confluent.cloud.demo.domain')),
    ]);
    expect(diff(local, imported)).toEqual(['MESSAGE_REMOVED #/GoogleHome']);
    expect(diff(imported, local)).toEqual(['MESSAGE_ADDED #/GoogleHome']);
  });

  it('checks reuse of a removed field number only against versions that had it', () => {
    const v1 = parse(`${P3}message M { int32 a = 2; }`);
    const v2 = parse(`${P3}message M { reserved 2; }`);
    const v3 = parse(`${P3}message M { string b = 2; }`);
    const previous = [
      { version: 1, schema: v1 },
      { version: 2, schema: v2 },
    ];
    expect(checkCompatibility('BACKWARD', v3, previous)).toEqual([]);
    const transitive = checkCompatibility('BACKWARD_TRANSITIVE', v3, previous);
    expect(transitive[0]).toBe(
      `{errorType:"FIELD_SCALAR_KIND_CHANGED", description:"The kind of a SCALAR field at path '#/M/2' in the new schema does not match its kind in the old schema"}`,
    );
    expect(transitive).toContain('{oldSchemaVersion: 1}');
  });

  it('under FORWARD, a new message is one the old schema lacks', () => {
    const old = parse(`${P3}message A { int32 x = 1; }`);
    const next = parse(`${P3}message A { int32 x = 1; } message B { int32 y = 1; }`);
    const messages = checkCompatibility('FORWARD', next, [{ version: 1, schema: old }]);
    expect(messages[0]).toBe(
      `{errorType:"MESSAGE_REMOVED", description:"The old schema is missing a MESSAGE type at path '#/B' in the new schema"}`,
    );
  });
});

describe('Protobuf schemas: canonical text, message indexes, hostile input', () => {
  it('stores one canonical text for layouts and comments that differ', () => {
    const a = parse(
      `syntax = "proto3";\n// orders\npackage acme;\nenum Kind { A = 0; }\nmessage Order { string id = 1; /* x */ repeated int64 n = 2 [packed = true]; map<string, Kind> k = 3; message Line { int32 q = 1; } oneof pay { string card = 4; } }`,
    );
    const b = parse(
      `syntax="proto3"; package acme;  message Order {\n string id = 1;\n repeated int64 n = 2 [packed=true];\n map<string,Kind> k = 3;\n message Line { int32 q = 1; }\n oneof pay { string card = 4; }\n}\nenum Kind {\n A = 0;\n}`,
    );
    expect(a.canonical).toBe(b.canonical);
    expect(a.canonical).toBe(
      'syntax = "proto3";\npackage acme;\n\nmessage Order {\n  string id = 1;\n  repeated int64 n = 2 [packed = true];\n  map<string, Kind> k = 3;\n\n  oneof pay {\n    string card = 4;\n  }\n\n  message Line {\n    int32 q = 1;\n  }\n}\nenum Kind {\n  A = 0;\n}\n',
    );
    // The canonical text parses to the same canonical text.
    expect(parse(a.canonical).canonical).toBe(a.canonical);
    expect(a.normalized()).toContain('map<string, .acme.Kind> k = 3;');
  });

  it('finds messages by index and indexes by message, as Confluent numbers them', () => {
    const s = parse(
      `${P3}package p; message UserId { string v = 1; } message MessageId { string v = 1; } enum Status { A = 0; } message ComplexType { int32 x = 1; } message NestedMessage { message InnerMessage { int32 y = 1; } }`,
    );
    expect(s.firstMessage()).toBe('p.UserId');
    expect(s.indexesOf('p.UserId')).toEqual([0]);
    expect(s.indexesOf('p.MessageId')).toEqual([1]);
    expect(s.indexesOf('p.ComplexType')).toEqual([2]);
    expect(s.indexesOf('p.NestedMessage.InnerMessage')).toEqual([3, 0]);
    expect(s.messageAt([3, 0])).toBe('p.NestedMessage.InnerMessage');
    expect(s.messageAt([9])).toBeUndefined();
  });

  it.each([
    [[0], '00'],
    [[1], '0202'],
    [[2], '0204'],
    [[0, 0], '040000'],
    [[3, 0], '040600'],
    [[1, 2, 3], '06020406'],
    [[64], '028001'],
  ])('encodes message indexes %j as %s and back', (indexes, hex) => {
    expect(encodeMessageIndexes(indexes).toString('hex')).toBe(hex);
    expect(decodeMessageIndexes(Buffer.from(hex, 'hex'), 0)).toEqual({ indexes, next: hex.length / 2 });
  });

  it.each([
    ['a syntax error', `${P3}message M { int32 a = 1 }`],
    ['an unknown type', `${P3}message M { Missing a = 1; }`],
    ['an import without a reference', `${P3}import "other.proto"; message M { other.Thing a = 1; }`],
    ['a duplicate field number', `${P3}message M { int32 a = 1; int32 b = 1; }`],
    [
      'nesting deeper than protobufjs allows',
      `${P3}${'message M { '.repeat(3000)}int32 a = 1;${' }'.repeat(3000)}`,
    ],
    [
      'more fields than any real schema has',
      `${P3}message W {${Array.from({ length: 3500 }, (_, i) => ` int32 f${i} = ${i + 1};`).join('')} }`,
    ],
  ])('refuses %s', (_name, text) => {
    expect(() => parse(text)).toThrow(expect.objectContaining({ errorCode: 42201 }));
  });
});
