import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { ProtobufSchema } from './protobuf-schema.ts';

interface MessageDescriptor {
  name: string;
  field?: Array<{ typeName?: string }>;
  nestedType?: MessageDescriptor[];
}

interface FileDescriptor {
  name: string;
  package?: string;
  dependency: string[];
  messageType?: MessageDescriptor[];
  enumType?: Array<{ name: string }>;
  service?: Array<{ name: string }>;
  syntax?: string;
}

/**
 * The schema as Confluent's `format=serialized` gives it: a base64 FileDescriptorProto, which
 * Confluent's JavaScript Protobuf serdes read schemas in. protobufjs builds the descriptor from the
 * resolved types; it groups them by package, so the schema's own top-level types are picked out of
 * its package's file, which is then named and given the schema's imports.
 */
export function serializedDescriptor(schema: ProtobufSchema): string {
  const set = (
    schema.root as unknown as { toDescriptor(syntax: string): { file: FileDescriptor[] } }
  ).toDescriptor(schema.file.syntax);
  const pkg = schema.file.package;
  const file = set.file.find((f) => (f.package ?? '') === pkg) ?? { name: '', dependency: [] };
  const own = (names: string[]) => (list: Array<{ name: string }> | undefined) =>
    (list ?? []).filter((t) => names.includes(t.name));
  const out: FileDescriptor = {
    ...file,
    name: `${schema.firstMessage().replace(/\./g, '_')}.proto`,
    ...(pkg ? { package: pkg } : {}),
    dependency: schema.file.imports,
    messageType: own(schema.file.messages.map((m) => m.name))(file.messageType),
    enumType: own(schema.file.enums.map((e) => e.name))(file.enumType),
    service: own(schema.file.services.map((s) => s.name))(file.service),
    syntax: schema.file.syntax,
  };
  // protobufjs writes type names as written; descriptors name types in full, with a leading dot.
  const qualify = (m: MessageDescriptor, scope: string) => {
    const fullName = scope ? `${scope}.${m.name}` : m.name;
    for (const f of m.field ?? []) {
      const info = f.typeName ? schema.table.resolve(f.typeName, fullName) : undefined;
      if (info) f.typeName = `.${info.fullName}`;
      else if (f.typeName && !f.typeName.startsWith('.')) f.typeName = `.${fullName}.${f.typeName}`; // a map entry
    }
    for (const nested of m.nestedType ?? []) qualify(nested, fullName);
  };
  for (const m of out.messageType ?? []) qualify(m, pkg);
  const bytes = (
    descriptor as unknown as { FileDescriptorProto: { encode(m: unknown): { finish(): Uint8Array } } }
  ).FileDescriptorProto.encode(out).finish();
  return Buffer.from(bytes).toString('base64');
}
