import { type Logger, silentLogger } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import { avroProvider } from './avro/avro-schema.ts';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel, checkCompatibility } from './compatibility.ts';
import { RegistryErrors } from './errors.ts';
import { jsonSchemaProvider } from './json/json-schema.ts';
import { serializedDescriptor } from './protobuf/proto-descriptor.ts';
import { type ProtobufSchema, protobufProvider } from './protobuf/protobuf-schema.ts';
import { lookedUp } from './registry-events.ts';
import type {
  ParsedSchema,
  ResolvedReference,
  SchemaDefinition,
  SchemaProvider,
  SchemaReference,
  SchemaType,
} from './schema.ts';
import { identityOf, type RegistryState, type StoredVersion } from './store/registry-state.ts';
import { SchemaLog } from './store/schema-log.ts';
import { MODES, type Mode, type SchemaRecord } from './store/schema-records.ts';
import { checkSubject, LATEST } from './subject-name.ts';

export interface RegistryOptions {
  bus: Bus;
  /** Default `_schemas`. */
  topic?: string;
  logger?: Logger;
  /** Largest schema text accepted. Default 1 MiB, which still fits Kafka's default record size. */
  maxSchemaBytes?: number;
  /** The compatibility level until one is set. Default BACKWARD, as Confluent's. */
  defaultCompatibility?: CompatibilityLevel;
  /** More providers (or replacements), by schema type. */
  providers?: SchemaProvider[];
}

/** A subject's version as the API returns it. */
export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}

export interface RegisterOptions {
  normalize?: boolean;
  /** IMPORT mode only: the id and version the schema had in the registry it comes from. */
  id?: number;
  version?: number;
}

const MAX_REFERENCE_DEPTH = 32;
const PARSED_CACHE_LIMIT = 10_000;

/**
 * The schema registry: subjects, versions, ids, compatibility levels and modes, with Confluent's
 * rules, kept on the bus in a `_schemas` topic. Reads answer from memory; writes go through the topic.
 */
export class SchemaRegistry {
  readonly #log: SchemaLog;
  readonly #providers: Map<SchemaType, SchemaProvider>;
  readonly #maxSchemaBytes: number;
  readonly #defaultCompatibility: CompatibilityLevel;
  readonly #parsed = new Map<string, ParsedSchema>();

  private constructor(log: SchemaLog, options: RegistryOptions) {
    this.#log = log;
    this.#maxSchemaBytes = options.maxSchemaBytes ?? 1024 * 1024;
    this.#defaultCompatibility = options.defaultCompatibility ?? 'BACKWARD';
    this.#providers = new Map(
      [avroProvider, jsonSchemaProvider, protobufProvider, ...(options.providers ?? [])].map((p) => [
        p.type,
        p,
      ]),
    );
  }

  /** Opens the registry on a bus and reads its topic to the end. */
  static async open(options: RegistryOptions): Promise<SchemaRegistry> {
    const log = new SchemaLog({
      bus: options.bus,
      logger: options.logger ?? silentLogger,
      ...(options.topic === undefined ? {} : { topic: options.topic }),
    });
    await log.start();
    return new SchemaRegistry(log, options);
  }

  get #state(): RegistryState {
    return this.#log.state;
  }

  /** The largest id handed out so far. */
  maxId(): number {
    return this.#state.maxId;
  }

  /** In Confluent's order, which clients may show. */
  types(): SchemaType[] {
    return (['JSON', 'PROTOBUF', 'AVRO'] as const).filter((t) => this.#providers.has(t));
  }

  /** The schema with an id; with `subject`, only if that subject holds it. */
  schemaById(id: number, subject?: string): StoredVersion {
    const holders = this.#state.holdersOf(id);
    const found = subject === undefined ? holders[0] : holders.find((h) => h.subject === subject);
    if (lookedUp.hasSubscribers) lookedUp.publish({ by: 'id', found: found !== undefined });
    if (!found) throw RegistryErrors.schemaNotFound(id);
    return found;
  }

  /** The subjects and versions holding an id. */
  versionsOfId(id: number, includeDeleted = false): Array<{ subject: string; version: number }> {
    const holders = this.#state.holdersOf(id);
    if (holders.length === 0) throw RegistryErrors.schemaNotFound(id);
    return holders
      .filter((h) => includeDeleted || !h.deleted)
      .map(({ subject, version }) => ({ subject, version }));
  }

  subjects(options: { deleted?: boolean; prefix?: string } = {}): string[] {
    const all = this.#state.subjects(options.deleted ?? false);
    return options.prefix ? all.filter((s) => s.startsWith(options.prefix!)) : all;
  }

  versions(subject: string, includeDeleted = false): number[] {
    const versions = this.#state.versions(subject, includeDeleted);
    if (versions.length === 0) throw RegistryErrors.subjectNotFound(subject);
    return versions.map((v) => v.version);
  }

  /** One version of a subject; `LATEST` (-1) for the newest not deleted. */
  version(subject: string, version: number, includeDeleted = false): SubjectVersion {
    let found: StoredVersion | undefined;
    try {
      found = this.#find(subject, version, includeDeleted);
      return present(found);
    } finally {
      if (lookedUp.hasSubscribers) lookedUp.publish({ by: 'subject', found: found !== undefined });
    }
  }

  referencedBy(subject: string, version: number): number[] {
    const stored = this.#find(subject, version, true);
    return [...new Set(this.#state.referencedBy(subject, stored.version).map((v) => v.id))].sort(
      (a, b) => a - b,
    );
  }

  /** The version of a subject that holds this schema (`POST /subjects/{s}`). */
  lookup(
    subject: string,
    definition: SchemaDefinition,
    options: { normalize?: boolean; deleted?: boolean } = {},
  ): SubjectVersion {
    checkSubject(subject);
    const versions = this.#state.versions(subject, options.deleted ?? false);
    if (versions.length === 0) throw RegistryErrors.subjectNotFound(subject);
    const identity = identityOf(this.#prepare(definition, options.normalize ?? false).definition);
    const match = versions.reverse().find((v) => identityOf(v) === identity);
    if (!match) throw RegistryErrors.schemaNotFound();
    return present(match);
  }

  /**
   * Registers a schema under a subject, or finds it there; resolves with its id. The steps and their
   * order are Confluent's: a schema already live in the subject answers with its id before the mode is
   * looked at; then the mode, the compatibility check (not in IMPORT), and the id: the one the same
   * schema has anywhere, or the next free one.
   */
  async register(
    subject: string,
    definition: SchemaDefinition,
    options: RegisterOptions = {},
  ): Promise<number> {
    checkSubject(subject);
    const candidate = this.#prepare(definition, options.normalize ?? false);
    const identity = identityOf(candidate.definition);
    return this.#log.write((state) => {
      const versions = state.versions(subject, true);
      const live = versions.filter((v) => !v.deleted);
      const existing = live.find((v) => identityOf(v) === identity);
      if (existing && options.version === undefined) return { records: [], result: existing.id };
      const mode = this.#modeOf(state, subject);
      if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE')
        throw RegistryErrors.operationNotPermitted(`Subject ${subject} is in read-only mode`);
      const importing = options.id !== undefined && options.id >= 0;
      if (importing && mode !== 'IMPORT')
        throw RegistryErrors.operationNotPermitted(`Subject ${subject} is not in import mode`);
      if (!importing && mode !== 'READWRITE')
        throw RegistryErrors.operationNotPermitted(`Subject ${subject} is not in read-write mode`);
      const next = (versions.at(-1)?.version ?? 0) + 1;
      let version = next;
      let id = state.idOf(candidate.definition);
      if (importing) {
        if (options.id! < 1 || options.id! > 2 ** 31 - 1)
          throw RegistryErrors.invalidSchema(`Schema id ${options.id} is out of range: ids are 1..2^31-1`);
        if (options.version !== undefined && (options.version < 1 || options.version > 2 ** 31 - 1))
          throw RegistryErrors.invalidVersion(String(options.version));
        version = options.version ?? next;
        const holder = state.schemaById(options.id!);
        if (holder && identityOf(holder) !== identity)
          throw RegistryErrors.operationNotPermitted(
            `Overwrite new schema with id ${options.id} is not permitted.`,
          );
        id = options.id!;
      } else {
        if (options.version !== undefined && options.version !== next)
          throw RegistryErrors.invalidSchema('Version is not one more than previous version');
        const previous = live.map((v) => ({ version: v.version, schema: this.#parse(v) }));
        const messages = checkCompatibility(
          this.#compatibilityOf(state, subject),
          candidate.parsed,
          previous,
        );
        if (messages.length > 0) throw RegistryErrors.incompatible(subject, messages);
      }
      id ??= state.maxId + 1;
      // A soft-deleted earlier version of the same schema gives way to the new one, as on Confluent.
      const replaced = versions
        .filter((v) => v.deleted && v.id === id && v.version < version)
        .map((v): SchemaRecord => ({ kind: 'SCHEMA', subject, version: v.version, value: null }));
      return { records: [...replaced, schemaRecord(subject, version, id, candidate.definition)], result: id };
    });
  }

  /**
   * Whether a schema could be registered: against one version (`LATEST` for the newest), or with no
   * version, against the versions registering would check. An unknown subject is compatible with anything.
   */
  testCompatibility(
    subject: string,
    version: number | undefined,
    definition: SchemaDefinition,
    options: { normalize?: boolean } = {},
  ): string[] {
    checkSubject(subject);
    const candidate = this.#prepare(definition, options.normalize ?? false);
    const level = this.#compatibilityOf(this.#state, subject);
    const live = this.#state.versions(subject);
    if (version === undefined) {
      const previous = live.map((v) => ({ version: v.version, schema: this.#parse(v) }));
      return checkCompatibility(level, candidate.parsed, previous);
    }
    const stored = version === LATEST ? live.at(-1) : live.find((v) => v.version === version);
    if (!stored) {
      if (version === LATEST) return [];
      throw RegistryErrors.versionNotFound(version);
    }
    // Against one version, a transitive level means the same as its plain one.
    const single = level.replace('_TRANSITIVE', '') as CompatibilityLevel;
    return checkCompatibility(single, candidate.parsed, [
      { version: stored.version, schema: this.#parse(stored) },
    ]);
  }

  /** Soft-deletes a version (or removes a soft-deleted one for good); resolves with its number. */
  async deleteVersion(subject: string, version: number, permanent = false): Promise<number> {
    checkSubject(subject);
    return this.#log.write((state) => {
      const all = state.versions(subject, true);
      const stored =
        version === LATEST ? all.filter((v) => !v.deleted).at(-1) : all.find((v) => v.version === version);
      if (stored?.deleted && !permanent) throw RegistryErrors.versionSoftDeleted(subject, stored.version);
      if (!stored) {
        if (all.length === 0 || version === LATEST) throw RegistryErrors.subjectNotFound(subject);
        throw RegistryErrors.versionNotFound(version);
      }
      this.#checkWritable(state, subject);
      this.#checkUnreferenced(state, [stored]);
      if (permanent) {
        if (!stored.deleted) throw RegistryErrors.versionNotSoftDeleted(subject, stored.version);
        return {
          records: [{ kind: 'SCHEMA', subject, version: stored.version, value: null }],
          result: stored.version,
        };
      }
      const records: SchemaRecord[] = [
        { kind: 'SCHEMA', subject, version: stored.version, value: { ...stored, deleted: true } },
      ];
      // The last live version gone: the subject's own settings go with it, as on Confluent.
      if (all.every((v) => v.deleted || v === stored))
        records.push(...this.#settingsTombstones(state, subject));
      return { records, result: stored.version };
    });
  }

  /** Soft-deletes every version of a subject (or removes a soft-deleted subject for good). */
  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    checkSubject(subject);
    return this.#log.write((state) => {
      const all = state.versions(subject, true);
      if (all.length === 0) throw RegistryErrors.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent && live.length === 0) throw RegistryErrors.subjectSoftDeleted(subject);
      this.#checkWritable(state, subject);
      this.#checkUnreferenced(state, permanent ? all : live);
      if (permanent) {
        if (live.length > 0) throw RegistryErrors.subjectNotSoftDeleted(subject);
        return {
          records: all.map(
            (v): SchemaRecord => ({ kind: 'SCHEMA', subject, version: v.version, value: null }),
          ),
          result: all.map((v) => v.version),
        };
      }
      return {
        records: [
          { kind: 'DELETE_SUBJECT', subject, value: { subject, version: live.at(-1)!.version } },
          ...this.#settingsTombstones(state, subject),
        ],
        result: live.map((v) => v.version),
      };
    });
  }

  #settingsTombstones(state: RegistryState, subject: string): SchemaRecord[] {
    const out: SchemaRecord[] = [];
    if (state.config(subject) !== undefined) out.push({ kind: 'CONFIG', subject, value: null });
    if (state.mode(subject) !== undefined) out.push({ kind: 'MODE', subject, value: null });
    return out;
  }

  /** A subject's level, or (subject null) the global one; `fallback` answers with the global level when the subject has none. */
  compatibility(subject: string | null, fallback = false): CompatibilityLevel {
    if (subject === null) return this.#state.config(null) ?? this.#defaultCompatibility;
    const own = this.#state.config(checkSubject(subject));
    if (own) return own;
    if (fallback) return this.compatibility(null);
    throw RegistryErrors.compatibilityNotConfigured(subject);
  }

  async setCompatibility(subject: string | null, level: unknown): Promise<CompatibilityLevel> {
    const parsed = typeof level === 'string' ? level.trim().toUpperCase() : level;
    if (!COMPATIBILITY_LEVELS.includes(parsed as CompatibilityLevel))
      throw RegistryErrors.invalidCompatibilityLevel(level);
    if (subject !== null) checkSubject(subject);
    const compatibilityLevel = parsed as CompatibilityLevel;
    return this.#log.write((state) => {
      this.#checkWritable(state, subject);
      return {
        records: [{ kind: 'CONFIG', subject, value: { compatibilityLevel } }],
        result: compatibilityLevel,
      };
    });
  }

  /** Removes a subject's level (it falls back to the global one) or resets the global one; resolves with what it was. */
  async deleteCompatibility(subject: string | null): Promise<CompatibilityLevel> {
    if (subject !== null) checkSubject(subject);
    return this.#log.write((state) => {
      this.#checkWritable(state, subject);
      const was = subject === null ? this.compatibility(null) : state.config(subject);
      if (was === undefined) throw RegistryErrors.subjectNotFound(subject!);
      return { records: [{ kind: 'CONFIG', subject, value: null }], result: was };
    });
  }

  mode(subject: string | null, fallback = false): Mode {
    if (subject === null) return this.#state.mode(null) ?? 'READWRITE';
    const own = this.#state.mode(checkSubject(subject));
    if (own) return own;
    if (fallback) return this.mode(null);
    throw RegistryErrors.modeNotConfigured(subject);
  }

  async setMode(subject: string | null, mode: unknown, force = false): Promise<Mode> {
    const parsed = typeof mode === 'string' ? mode.trim().toUpperCase() : mode;
    if (!MODES.includes(parsed as Mode)) throw RegistryErrors.invalidMode(mode);
    if (subject !== null) checkSubject(subject);
    return this.#log.write((state) => {
      const current = subject === null ? state.mode(null) : (state.mode(subject) ?? state.mode(null));
      if (parsed === 'IMPORT' && current !== 'IMPORT' && !force) {
        const holding = subject === null ? state.subjects().length > 0 : state.versions(subject).length > 0;
        if (holding)
          throw RegistryErrors.operationNotPermitted('Cannot import since found existing subjects');
      }
      return {
        records: [{ kind: 'MODE', subject, value: { mode: parsed as Mode } }],
        result: parsed as Mode,
      };
    });
  }

  async deleteMode(subject: string | null): Promise<Mode> {
    if (subject !== null) checkSubject(subject);
    return this.#log.write((state) => {
      const was = subject === null ? this.mode(null) : state.mode(subject);
      if (was === undefined) throw RegistryErrors.subjectNotFound(subject!);
      return { records: [{ kind: 'MODE', subject, value: null }], result: was };
    });
  }

  /**
   * A stored schema's text in another format, as `?format=` asks: `serialized` gives a Protobuf
   * schema as a base64 FileDescriptorProto; other formats give the canonical text, as on Confluent.
   */
  formatted(stored: SchemaDefinition, format: string | undefined): string {
    if (format === 'serialized' && stored.schemaType === 'PROTOBUF')
      return serializedDescriptor(this.#parse(stored) as ProtobufSchema);
    return stored.schema;
  }

  /** Parses a schema the registry holds, with its references; parsed schemas are cached by identity. */
  parsed(stored: SchemaDefinition): ParsedSchema {
    return this.#parse(stored);
  }

  /** Waits until this registry has read what any registry committed before now. */
  sync(): Promise<void> {
    return this.#log.sync();
  }

  /**
   * The schema with an id, also when another registry process handed the id out a moment ago: a
   * miss reads the log to its end before answering 40403.
   */
  async loadSchemaById(id: number, subject?: string): Promise<StoredVersion> {
    try {
      return this.schemaById(id, subject);
    } catch {
      await this.#log.refresh();
      return this.schemaById(id, subject);
    }
  }

  close(): Promise<void> {
    return this.#log.close();
  }

  #prepare(
    definition: SchemaDefinition,
    normalize: boolean,
  ): { definition: SchemaDefinition; parsed: ParsedSchema } {
    const bytes = Buffer.byteLength(definition.schema);
    if (bytes > this.#maxSchemaBytes) throw RegistryErrors.schemaTooLarge(bytes, this.#maxSchemaBytes);
    const parsed = this.#parseFresh(definition);
    const schema = normalize ? parsed.normalized() : parsed.canonical;
    const canonical = { ...definition, schema };
    return { definition: canonical, parsed };
  }

  #parse(definition: SchemaDefinition): ParsedSchema {
    const identity = identityOf(definition);
    let parsed = this.#parsed.get(identity);
    if (!parsed) {
      parsed = this.#parseFresh(definition);
      if (this.#parsed.size >= PARSED_CACHE_LIMIT) this.#parsed.clear();
      this.#parsed.set(identity, parsed);
    }
    return parsed;
  }

  #parseFresh(definition: SchemaDefinition): ParsedSchema {
    const provider = this.#providers.get(definition.schemaType);
    if (!provider)
      throw RegistryErrors.invalidSchema(`unknown schema type ${JSON.stringify(definition.schemaType)}`);
    return provider.parse(definition.schema, this.#resolve(definition.references, 0));
  }

  #resolve(references: readonly SchemaReference[], depth: number): ResolvedReference[] {
    if (depth > MAX_REFERENCE_DEPTH)
      throw RegistryErrors.invalidSchema(
        `references nest deeper than ${MAX_REFERENCE_DEPTH} levels (a cycle?)`,
      );
    return references.map((reference) => {
      const stored =
        reference.version === LATEST
          ? this.#state.versions(reference.subject).at(-1)
          : this.#state.version(reference.subject, reference.version);
      if (!stored || stored.deleted)
        throw RegistryErrors.invalidSchema(
          `reference ${JSON.stringify(reference.name)} names ${reference.subject} version ${reference.version}, which does not exist`,
        );
      return {
        name: reference.name,
        schema: stored.schema,
        references: this.#resolve(stored.references, depth + 1),
      };
    });
  }

  /** `LATEST` is the newest live version, also when deleted ones are asked for, as on Confluent. */
  #find(subject: string, version: number, includeDeleted: boolean): StoredVersion {
    checkSubject(subject);
    const versions = this.#state.versions(subject, includeDeleted);
    if (versions.length === 0) throw RegistryErrors.subjectNotFound(subject);
    const stored =
      version === LATEST
        ? versions.filter((v) => !v.deleted).at(-1)
        : versions.find((v) => v.version === version);
    if (!stored) throw RegistryErrors.versionNotFound(version);
    return stored;
  }

  #checkWritable(state: RegistryState, subject: string | null): void {
    const mode = subject === null ? (state.mode(null) ?? 'READWRITE') : this.#modeOf(state, subject);
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE')
      throw RegistryErrors.operationNotPermitted(`Subject ${subject} is in read-only mode`);
  }

  #checkUnreferenced(state: RegistryState, versions: readonly StoredVersion[]): void {
    for (const v of versions) {
      const users = state.referencedBy(v.subject, v.version);
      if (users.length > 0)
        throw RegistryErrors.referenceExists(
          `One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=${v.subject},version=${v.version}}. Referenced by: ${users.map((u) => `${u.subject} version ${u.version}`).join(', ')}`,
        );
    }
  }

  #modeOf(state: RegistryState, subject: string): Mode {
    return state.mode(subject) ?? state.mode(null) ?? 'READWRITE';
  }

  #compatibilityOf(state: RegistryState, subject: string): CompatibilityLevel {
    return state.config(subject) ?? state.config(null) ?? this.#defaultCompatibility;
  }
}

function schemaRecord(
  subject: string,
  version: number,
  id: number,
  definition: SchemaDefinition,
): SchemaRecord {
  return { kind: 'SCHEMA', subject, version, value: { subject, version, id, ...definition, deleted: false } };
}

function present(v: StoredVersion): SubjectVersion {
  return {
    subject: v.subject,
    version: v.version,
    id: v.id,
    schemaType: v.schemaType,
    schema: v.schema,
    references: v.references,
  };
}
