import {
  type ProtoEnum,
  type ProtoFile,
  type ProtoMessage,
  WELL_KNOWN,
  wellKnownFile,
} from './proto-file.ts';

/** Where a type is defined: which file, and which subject/version that file is (the schema itself: ''/-1). */
export interface TypeInfo {
  fullName: string;
  package: string;
  source: { subject: string; version: number };
  message?: ProtoMessage;
  enum?: ProtoEnum;
}

export const SCALARS = new Set([
  'double',
  'float',
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
  'bool',
  'string',
  'bytes',
]);

/**
 * Every message and enum a schema can name: its own, its references', and the well-known files.
 * Names resolve as protoc resolves them: innermost scope first, then outwards to the package root.
 */
export class TypeTable {
  readonly #types = new Map<string, TypeInfo>();
  readonly root: ProtoFile;

  constructor(
    root: ProtoFile,
    dependencies: ReadonlyArray<{ file: ProtoFile; subject: string; version: number }>,
  ) {
    this.root = root;
    const given = new Set(dependencies.map((d) => d.file.name));
    for (const name of Object.keys(WELL_KNOWN)) {
      const file = given.has(name) ? undefined : wellKnownFile(name);
      if (file) this.#collect(file, { subject: name, version: 0 });
    }
    for (const d of dependencies) this.#collect(d.file, { subject: d.subject, version: d.version });
    this.#collect(root, { subject: '', version: -1 });
  }

  #collect(file: ProtoFile, source: TypeInfo['source']): void {
    const walk = (messages: ProtoMessage[], enums: ProtoEnum[]) => {
      for (const m of messages) {
        this.#types.set(m.fullName, { fullName: m.fullName, package: file.package, source, message: m });
        walk(m.messages, m.enums);
      }
      for (const e of enums)
        this.#types.set(e.fullName, { fullName: e.fullName, package: file.package, source, enum: e });
    };
    walk(file.messages, file.enums);
  }

  /** Resolves `name` as written in a message whose full name is `scope` (or at file level, the package). */
  resolve(name: string, scope: string): TypeInfo | undefined {
    if (name.startsWith('.')) return this.#types.get(name.slice(1));
    const prefix = scope ? scope.split('.') : [];
    for (;;) {
      const found = this.#types.get(prefix.length ? `${prefix.join('.')}.${name}` : name);
      if (found || prefix.length === 0) return found;
      prefix.pop();
    }
  }

  get(fullName: string): TypeInfo | undefined {
    return this.#types.get(fullName);
  }

  /** Every field type of the schema resolves; names the first one that does not. */
  unresolved(): string | undefined {
    const check = (messages: ProtoMessage[]): string | undefined => {
      for (const m of messages) {
        for (const f of [...m.fields, ...m.oneofs.flatMap((o) => o.fields)])
          if (!SCALARS.has(f.type) && !this.resolve(f.type, m.fullName))
            return `${f.type} (field ${m.fullName}.${f.name})`;
        const nested = check(m.messages);
        if (nested) return nested;
      }
      return undefined;
    };
    return check(this.root.messages);
  }
}
