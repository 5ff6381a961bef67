import descriptor from 'protobufjs/ext/descriptor/index.js';
import { RegistryErrors } from '../errors.ts';

interface Field {
  name: string;
  number: number;
  label?: number;
  type?: number;
  typeName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
  defaultValue?: string;
  options?: { packed?: boolean };
}

interface Message {
  name: string;
  field?: Field[];
  nestedType?: Message[];
  enumType?: Enum[];
  oneofDecl?: Array<{ name: string }>;
  options?: { mapEntry?: boolean };
  reservedName?: string[];
}

interface Enum {
  name: string;
  value?: Array<{ name: string; number: number }>;
}

interface File {
  package?: string;
  dependency?: string[];
  messageType?: Message[];
  enumType?: Enum[];
  service?: Array<{
    name: string;
    method?: Array<{
      name: string;
      inputType: string;
      outputType: string;
      clientStreaming?: boolean;
      serverStreaming?: boolean;
    }>;
  }>;
  syntax?: string;
}

const SCALARS: Record<number, string> = {
  1: 'double',
  2: 'float',
  3: 'int64',
  4: 'uint64',
  5: 'int32',
  6: 'fixed64',
  7: 'fixed32',
  8: 'bool',
  9: 'string',
  12: 'bytes',
  13: 'uint32',
  15: 'sfixed32',
  16: 'sfixed64',
  17: 'sint32',
  18: 'sint64',
};
const LABEL_REPEATED = 3;
const LABEL_REQUIRED = 2;

/** Base64 that is not `.proto` text: what Confluent's Go and .NET serializers register. */
export function looksSerialized(text: string): boolean {
  const t = text.trim();
  return t.length > 0 && t.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(t);
}

/**
 * A schema registered as a serialized FileDescriptorProto (base64), written back as `.proto` text so
 * that it is stored, compared and checked as any other Protobuf schema. Written by hand: protobufjs
 * reads descriptors but prints no `.proto`.
 */
export function protoFromDescriptor(base64: string): string {
  let file: File;
  try {
    const type = (
      descriptor as unknown as {
        FileDescriptorProto: { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): File };
      }
    ).FileDescriptorProto;
    // toObject: only the fields set (decoded messages answer defaults for the rest, a oneof index 0).
    file = type.toObject(type.decode(Buffer.from(base64.trim(), 'base64')), {
      enums: Number,
      defaults: false,
    });
  } catch (error) {
    throw RegistryErrors.invalidSchema(
      `Protobuf: the schema is neither .proto text nor a serialized FileDescriptorProto: ${(error as Error).message}`,
      error,
    );
  }
  const syntax = file.syntax || 'proto2';
  const lines = [`syntax = "${syntax}";`];
  if (file.package) lines.push(`package ${file.package};`);
  for (const d of file.dependency ?? []) lines.push(`import "${d}";`);
  for (const m of file.messageType ?? []) lines.push(...message(m, syntax, ''));
  for (const e of file.enumType ?? []) lines.push(...enumeration(e, ''));
  for (const s of file.service ?? []) {
    lines.push(`service ${s.name} {`);
    for (const r of s.method ?? [])
      lines.push(
        `  rpc ${r.name}(${r.clientStreaming ? 'stream ' : ''}${r.inputType}) returns (${r.serverStreaming ? 'stream ' : ''}${r.outputType});`,
      );
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}

function message(m: Message, syntax: string, indent: string): string[] {
  const inner = `${indent}  `;
  const out = [`${indent}message ${m.name} {`];
  const entries = new Map((m.nestedType ?? []).filter((n) => n.options?.mapEntry).map((n) => [n.name, n]));
  const fields = m.field ?? [];
  // proto3 `optional` fields sit in a oneof of their own, which is not written as one.
  const synthetic = new Set(fields.filter((f) => f.proto3Optional).map((f) => f.oneofIndex));
  const type = (f: Field) => SCALARS[f.type ?? 0] ?? f.typeName ?? 'bytes';
  const line = (f: Field, inOneof: boolean) => {
    const entry = f.typeName ? entries.get(f.typeName.split('.').at(-1)!) : undefined;
    if (entry && f.label === LABEL_REPEATED) {
      const [k, v] = [entry.field![0]!, entry.field![1]!];
      return `map<${type(k)}, ${type(v)}> ${f.name} = ${f.number};`;
    }
    const label = inOneof
      ? ''
      : f.label === LABEL_REPEATED
        ? 'repeated '
        : f.label === LABEL_REQUIRED
          ? 'required '
          : syntax === 'proto2' || f.proto3Optional
            ? 'optional '
            : '';
    const options: string[] = [];
    if (f.defaultValue !== undefined && syntax === 'proto2')
      options.push(
        `default = ${f.type === 9 || f.type === 12 ? JSON.stringify(f.defaultValue) : f.defaultValue}`,
      );
    if (f.options?.packed !== undefined) options.push(`packed = ${f.options.packed}`);
    return `${label}${type(f)} ${f.name} = ${f.number}${options.length ? ` [${options.join(', ')}]` : ''};`;
  };
  for (const f of fields)
    if (f.oneofIndex === undefined || synthetic.has(f.oneofIndex)) out.push(`${inner}${line(f, false)}`);
  (m.oneofDecl ?? []).forEach((o, i) => {
    if (synthetic.has(i)) return;
    out.push(`${inner}oneof ${o.name} {`);
    for (const f of fields)
      if (f.oneofIndex === i && !f.proto3Optional) out.push(`${inner}  ${line(f, true)}`);
    out.push(`${inner}}`);
  });
  if (m.reservedName?.length)
    out.push(`${inner}reserved ${m.reservedName.map((n) => JSON.stringify(n)).join(', ')};`);
  for (const n of m.nestedType ?? []) if (!n.options?.mapEntry) out.push(...message(n, syntax, inner));
  for (const e of m.enumType ?? []) out.push(...enumeration(e, inner));
  out.push(`${indent}}`);
  return out;
}

function enumeration(e: Enum, indent: string): string[] {
  return [
    `${indent}enum ${e.name} {`,
    ...(e.value ?? []).map((v) => `${indent}  ${v.name} = ${v.number};`),
    `${indent}}`,
  ];
}
