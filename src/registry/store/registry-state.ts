import type { CompatibilityLevel } from '../compatibility.ts';
import type { SchemaDefinition } from '../schema.ts';
import type { Mode, SchemaRecord, SchemaValue } from './schema-records.ts';

/** A subject's version as the topic holds it. */
export type StoredVersion = SchemaValue;

/** The same schema text, language and references: what gets the same id. */
export function identityOf(definition: SchemaDefinition): string {
  return JSON.stringify([definition.schemaType, definition.schema, definition.references]);
}

/**
 * What the `_schemas` topic says, folded record by record: subjects and their versions, ids, configs
 * and modes. Every registry process builds the same state from the same topic, so they agree on ids.
 */
export class RegistryState {
  readonly #subjects = new Map<string, Map<number, StoredVersion>>();
  /** id → the versions (in any subject) that hold it; an id with none left is gone. */
  readonly #holders = new Map<number, Set<StoredVersion>>();
  readonly #ids = new Map<string, number>();
  readonly #configs = new Map<string | null, CompatibilityLevel>();
  readonly #modes = new Map<string | null, Mode>();
  /** The largest id ever seen, deleted or not: a new schema never takes an id a client may have cached. */
  maxId = 0;

  /** Folds one record in; returns why it was ignored, if it was. */
  apply(record: SchemaRecord): string | null {
    switch (record.kind) {
      case 'SCHEMA':
        return record.value === null ? this.#remove(record.subject, record.version) : this.#put(record.value);
      case 'CONFIG':
        if (record.value === null) this.#configs.delete(record.subject);
        else this.#configs.set(record.subject, record.value.compatibilityLevel);
        return null;
      case 'MODE':
        if (record.value === null) this.#modes.delete(record.subject);
        else this.#modes.set(record.subject, record.value.mode);
        return null;
      case 'DELETE_SUBJECT':
        if (record.value !== null)
          for (const stored of this.#subjects.get(record.subject)?.values() ?? [])
            if (stored.version <= record.value.version) stored.deleted = true;
        return null;
      case 'CLEAR_SUBJECT':
        if (record.value !== null)
          for (const stored of [...(this.#subjects.get(record.subject)?.values() ?? [])])
            if (stored.deleted) this.#remove(record.subject, stored.version);
        return null;
      case 'NOOP':
        return null;
    }
  }

  #put(value: StoredVersion): string | null {
    const identity = identityOf(value);
    const holders = this.#holders.get(value.id);
    const other = holders?.values().next().value;
    if (other && identityOf(other) !== identity)
      return `id ${value.id} of ${value.subject} version ${value.version} is already the id of another schema (${other.subject} version ${other.version}); the first one written keeps it`;
    this.#remove(value.subject, value.version);
    let versions = this.#subjects.get(value.subject);
    if (!versions) this.#subjects.set(value.subject, (versions = new Map()));
    const stored = { ...value };
    versions.set(value.version, stored);
    if (holders) holders.add(stored);
    else this.#holders.set(value.id, new Set([stored]));
    this.#ids.set(identity, value.id);
    if (value.id > this.maxId) this.maxId = value.id;
    return null;
  }

  #remove(subject: string, version: number): null {
    const versions = this.#subjects.get(subject);
    const stored = versions?.get(version);
    if (!versions || !stored) return null;
    versions.delete(version);
    if (versions.size === 0) this.#subjects.delete(subject);
    const holders = this.#holders.get(stored.id)!;
    holders.delete(stored);
    if (holders.size === 0) {
      this.#holders.delete(stored.id);
      this.#ids.delete(identityOf(stored));
    }
    return null;
  }

  /** The schema an id stands for, while some version (deleted or not) still holds it. */
  schemaById(id: number): StoredVersion | undefined {
    return this.#holders.get(id)?.values().next().value;
  }

  /** The id the same schema already has anywhere in the registry. */
  idOf(definition: SchemaDefinition): number | undefined {
    return this.#ids.get(identityOf(definition));
  }

  /** Versions holding an id, in subject then version order. */
  holdersOf(id: number): StoredVersion[] {
    return [...(this.#holders.get(id) ?? [])].sort((a, b) =>
      a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.version - b.version,
    );
  }

  subjects(includeDeleted = false): string[] {
    return [...this.#subjects.keys()].filter((s) => this.versions(s, includeDeleted).length > 0).sort();
  }

  /** A subject's versions, oldest first. */
  versions(subject: string, includeDeleted = false): StoredVersion[] {
    const all = [...(this.#subjects.get(subject)?.values() ?? [])].sort((a, b) => a.version - b.version);
    return includeDeleted ? all : all.filter((v) => !v.deleted);
  }

  version(subject: string, version: number): StoredVersion | undefined {
    return this.#subjects.get(subject)?.get(version);
  }

  hasSubject(subject: string): boolean {
    return this.#subjects.has(subject);
  }

  /** Versions anywhere whose references name `subject`/`version`. */
  referencedBy(subject: string, version: number): StoredVersion[] {
    const out: StoredVersion[] = [];
    for (const versions of this.#subjects.values())
      for (const v of versions.values())
        if (!v.deleted && v.references.some((r) => r.subject === subject && r.version === version))
          out.push(v);
    return out;
  }

  config(subject: string | null): CompatibilityLevel | undefined {
    return this.#configs.get(subject);
  }

  mode(subject: string | null): Mode | undefined {
    return this.#modes.get(subject);
  }
}
