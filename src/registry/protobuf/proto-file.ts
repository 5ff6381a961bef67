import protobuf from 'protobufjs';
import { RegistryErrors } from '../errors.ts';

/**
 * One .proto file as the compatibility rules and the canonical text see it: messages, enums,
 * fields with their types as written and their labels as written, in declaration order. protobufjs
 * parses the text; this is the shape Confluent's rules (written over the Wire parser's AST) need.
 */
export interface ProtoFile {
  /** The import path other files use for it; '' for the schema itself. */
  name: string;
  syntax: 'proto2' | 'proto3';
  /** Whether the text has a `syntax` line (proto2 files may leave it out). */
  syntaxWritten: boolean;
  package: string;
  imports: string[];
  options: Array<[string, unknown]>;
  messages: ProtoMessage[];
  enums: ProtoEnum[];
  services: protobuf.Service[];
}

export interface ProtoMessage {
  name: string;
  /** Without a leading dot: `acme.Order.Item`. */
  fullName: string;
  fields: ProtoField[];
  oneofs: Array<{ name: string; fields: ProtoField[] }>;
  messages: ProtoMessage[];
  enums: ProtoEnum[];
  reserved: Array<[number, number] | string>;
  options: Array<[string, unknown]>;
}

export interface ProtoField {
  name: string;
  number: number;
  /** As written: `int32`, `Item`, `.acme.Item`, `google.protobuf.Timestamp`. */
  type: string;
  /** Set for map fields: `map<keyType, type>`. */
  keyType?: string;
  /** The label written in the text; null where none is (proto3 singular fields, maps, oneof members). */
  label: 'optional' | 'required' | 'repeated' | null;
  options: Array<[string, unknown]>;
}

export interface ProtoEnum {
  name: string;
  fullName: string;
  /** Constants in declaration order. */
  values: Array<[name: string, number: number]>;
  options: Array<[string, unknown]>;
  reserved: Array<[number, number] | string>;
}

/** Well-known files every schema may import without a reference, as protobufjs ships them. */
export const WELL_KNOWN = protobuf.common as unknown as Record<string, protobuf.INamespace>;

/** Parses one file; throws InvalidSchemaError with protobufjs's reason (line numbers included). */
export function parseProtoFile(text: string, name: string): { file: ProtoFile; root: protobuf.Root } {
  let parsed: protobuf.IParserResult;
  try {
    parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true, alternateCommentMode: true });
  } catch (error) {
    throw RegistryErrors.invalidSchema(
      `Protobuf${name ? ` ${name}` : ''}: ${(error as Error).message}`,
      error,
    );
  }
  const declared = /^\s*(?:\/\/[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*syntax\s*=\s*["'](proto[23])["']/.exec(text);
  const syntax = declared?.[1] === 'proto3' ? 'proto3' : 'proto2';
  const file = fromRoot(parsed.root, name, syntax, parsed.package ?? '', parsed.imports ?? []);
  return { file: { ...file, syntaxWritten: declared !== null }, root: parsed.root };
}

/** The file model of a well-known file protobufjs ships as JSON. */
export function wellKnownFile(name: string): ProtoFile | undefined {
  const json = WELL_KNOWN[name];
  if (!json) return undefined;
  const root = protobuf.Root.fromJSON(json);
  const pkg = name.startsWith('google/protobuf/') ? 'google.protobuf' : '';
  return fromRoot(root, name, 'proto3', pkg, []);
}

function fromRoot(
  root: protobuf.Root,
  name: string,
  syntax: ProtoFile['syntax'],
  pkg: string,
  imports: string[],
): ProtoFile {
  let ns: protobuf.NamespaceBase = root;
  for (const part of pkg ? pkg.split('.') : []) {
    const next = ns.get(part);
    if (!(next instanceof protobuf.Namespace)) break;
    ns = next;
  }
  const file: ProtoFile = {
    name,
    syntax,
    syntaxWritten: true,
    package: pkg,
    imports,
    options: optionsOf(ns === root ? undefined : ns.options),
    messages: [],
    enums: [],
    services: [],
  };
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) file.messages.push(message(nested, pkg, syntax));
    else if (nested instanceof protobuf.Enum) file.enums.push(enumOf(nested, pkg));
    else if (nested instanceof protobuf.Service) file.services.push(nested);
  }
  return file;
}

function message(type: protobuf.Type, scope: string, syntax: ProtoFile['syntax']): ProtoMessage {
  const fullName = scope ? `${scope}.${type.name}` : type.name;
  const realOneofs = type.oneofsArray.filter(
    (o) => !(o.fieldsArray.length === 1 && o.fieldsArray[0]!.options?.proto3_optional),
  );
  const inOneof = new Set(realOneofs.flatMap((o) => o.oneof));
  const out: ProtoMessage = {
    name: type.name,
    fullName,
    fields: type.fieldsArray.filter((f) => !inOneof.has(f.name)).map((f) => field(f, syntax)),
    oneofs: realOneofs.map((o) => ({
      name: o.name,
      fields: o.fieldsArray.map((f) => field(f, syntax, true)),
    })),
    messages: [],
    enums: [],
    reserved: (type.reserved ?? []) as Array<[number, number] | string>,
    options: optionsOf(type.options),
  };
  for (const nested of type.nestedArray) {
    if (nested instanceof protobuf.Type) out.messages.push(message(nested, fullName, syntax));
    else if (nested instanceof protobuf.Enum) out.enums.push(enumOf(nested, fullName));
  }
  return out;
}

function field(f: protobuf.Field, syntax: ProtoFile['syntax'], inOneof = false): ProtoField {
  const map = f instanceof protobuf.MapField;
  const options = optionsOf(f.options).filter(([k]) => k !== 'proto3_optional');
  let label: ProtoField['label'] = null;
  if (f.rule === 'repeated' || f.rule === 'required') label = f.rule;
  else if (f.options?.proto3_optional) label = 'optional';
  else if (syntax === 'proto2' && !map && !inOneof) label = 'optional';
  return {
    name: f.name,
    number: f.id,
    type: f.type,
    ...(map ? { keyType: (f as protobuf.MapField).keyType } : {}),
    label,
    options,
  };
}

function enumOf(e: protobuf.Enum, scope: string): ProtoEnum {
  return {
    name: e.name,
    fullName: scope ? `${scope}.${e.name}` : e.name,
    values: Object.entries(e.values),
    options: optionsOf(e.options),
    reserved: (e.reserved ?? []) as Array<[number, number] | string>,
  };
}

function optionsOf(options: Record<string, unknown> | undefined): Array<[string, unknown]> {
  return Object.entries(options ?? {});
}
