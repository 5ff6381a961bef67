import { type Logger, silentLogger } from '../core/index.ts';
import type { Bus } from '../log/index.ts';
import { avroProvider } from './avro/avro-schema.ts';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel, checkCompatibility } from './compatibility.ts';
import { RegistryErrors } from './errors.ts';
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
    this.#providers = new Map([avroProvider, ...(options.providers ?? [])].map((p) => [p.type, p]));
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

  types(): SchemaType[] {
    return [...this.#providers.keys()].sort();
  }

  /** The schema with an id; with `subject`, only if that subject holds it. */
  schemaById(id: number, subject?: string): StoredVersion {
    const holders = this.#state.holdersOf(id);
    const found = subject === undefined ? holders[0] : holders.find((h) => h.subject === subject);
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
    return present(this.#find(subject, version, includeDeleted));
  }

  referencedBy(subject: string, version: number): number[] {
    const stored = this.#find(subject, version, false);
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
    if (!this.#state.hasSubject(subject)) throw RegistryErrors.subjectNotFound(subject);
    const candidate = this.#prepare(definition, options.normalize ?? false);
    const identity = identityOf(candidate.definition);
    const match = this.#state
      .versions(subject, options.deleted ?? false)
      .reverse()
      .find((v) => identityOf(v) === identity);
    if (!match) throw RegistryErrors.schemaNotFound();
    return present(match);
  }

  /** Registers a schema under a subject, or finds it there; resolves with its id. */
  async register(
    subject: string,
    definition: SchemaDefinition,
    options: RegisterOptions = {},
  ): Promise<number> {
    checkSubject(subject);
    const candidate = this.#prepare(definition, options.normalize ?? false);
    return this.#log.write((state) => {
      const mode = this.#modeOf(state, subject);
      if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE')
        throw RegistryErrors.operationNotPermitted(`Subject ${subject} is in read-only mode`);
      const identity = identityOf(candidate.definition);
      const versions = state.versions(subject, true);
      if (mode === 'IMPORT') return this.#import(state, subject, candidate.definition, options);
      if (options.id !== undefined && options.id >= 0)
        throw RegistryErrors.operationNotPermitted(
          `Subject ${subject} is not in import mode: a schema id cannot be given`,
        );
      const existing = versions.filter((v) => !v.deleted).find((v) => identityOf(v) === identity);
      if (existing) return { records: [], result: existing.id };
      const previous = versions
        .filter((v) => !v.deleted)
        .map((v) => ({ version: v.version, schema: this.#parse(v) }));
      const messages = checkCompatibility(this.#compatibilityOf(state, subject), candidate.parsed, previous);
      if (messages.length > 0) throw RegistryErrors.incompatible(subject, messages);
      const id = state.idOf(candidate.definition) ?? state.maxId + 1;
      const version = (versions.at(-1)?.version ?? 0) + 1;
      return { records: [schemaRecord(subject, version, id, candidate.definition)], result: id };
    });
  }

  #import(state: RegistryState, subject: string, definition: SchemaDefinition, options: RegisterOptions) {
    if (options.id === undefined || options.id < 1)
      throw RegistryErrors.operationNotPermitted(
        `Subject ${subject} is in import mode: give the schema's id`,
      );
    const held = state.schemaById(options.id);
    if (held && identityOf(held) !== identityOf(definition))
      throw RegistryErrors.operationNotPermitted(
        `Overwrite new schema with id ${options.id} is not permitted: the id is taken by another schema`,
      );
    const version = options.version ?? (state.versions(subject, true).at(-1)?.version ?? 0) + 1;
    const taken = state.version(subject, version);
    if (taken && identityOf(taken) !== identityOf(definition))
      throw RegistryErrors.operationNotPermitted(
        `Version ${version} of subject ${subject} already holds another schema`,
      );
    return { records: [schemaRecord(subject, version, options.id, definition)], result: options.id };
  }

  /** Whether a schema could be registered: against one version, or (no version) as registering would check. */
  testCompatibility(
    subject: string,
    version: number | undefined,
    definition: SchemaDefinition,
    options: { normalize?: boolean } = {},
  ): string[] {
    checkSubject(subject);
    const candidate = this.#prepare(definition, options.normalize ?? false);
    const level = this.#compatibilityOf(this.#state, subject);
    if (version === undefined) {
      const previous = this.#state
        .versions(subject)
        .map((v) => ({ version: v.version, schema: this.#parse(v) }));
      return checkCompatibility(level, candidate.parsed, previous);
    }
    const stored = this.#find(subject, version, false);
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
      this.#checkWritable(state, subject);
      const stored = this.#find(subject, version, permanent);
      if (version === LATEST && permanent && !stored.deleted)
        throw RegistryErrors.versionNotSoftDeleted(subject, stored.version);
      if (!permanent && stored.deleted) throw RegistryErrors.versionSoftDeleted(subject, stored.version);
      if (permanent && !stored.deleted) throw RegistryErrors.versionNotSoftDeleted(subject, stored.version);
      this.#checkUnreferenced(state, [stored]);
      const record: SchemaRecord = permanent
        ? { kind: 'SCHEMA', subject, version: stored.version, value: null }
        : { kind: 'SCHEMA', subject, version: stored.version, value: { ...stored, deleted: true } };
      return { records: [record], result: stored.version };
    });
  }

  /** Soft-deletes every version of a subject (or removes a soft-deleted subject for good). */
  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    checkSubject(subject);
    return this.#log.write((state) => {
      this.#checkWritable(state, subject);
      const all = state.versions(subject, true);
      if (all.length === 0) throw RegistryErrors.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (permanent) {
        if (live.length > 0) throw RegistryErrors.subjectNotSoftDeleted(subject);
        this.#checkUnreferenced(state, all);
        return {
          records: all.map(
            (v): SchemaRecord => ({ kind: 'SCHEMA', subject, version: v.version, value: null }),
          ),
          result: all.map((v) => v.version),
        };
      }
      if (live.length === 0) throw RegistryErrors.subjectSoftDeleted(subject);
      this.#checkUnreferenced(state, live);
      return {
        records: [
          { kind: 'DELETE_SUBJECT', subject, value: { subject, version: all.at(-1)!.version } },
          ...live.map(
            (v): SchemaRecord => ({
              kind: 'SCHEMA',
              subject,
              version: v.version,
              value: { ...v, deleted: true },
            }),
          ),
        ],
        result: live.map((v) => v.version),
      };
    });
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
    const parsed = typeof level === 'string' ? level.toUpperCase() : level;
    if (!COMPATIBILITY_LEVELS.includes(parsed as CompatibilityLevel))
      throw RegistryErrors.invalidCompatibilityLevel(level);
    if (subject !== null) checkSubject(subject);
    const compatibilityLevel = parsed as CompatibilityLevel;
    return this.#log.write(() => ({
      records: [{ kind: 'CONFIG', subject, value: { compatibilityLevel } }],
      result: compatibilityLevel,
    }));
  }

  /** Removes a subject's level (it falls back to the global one) or resets the global one; resolves with what it was. */
  async deleteCompatibility(subject: string | null): Promise<CompatibilityLevel> {
    return this.#log.write((state) => {
      const was = subject === null ? this.compatibility(null) : state.config(checkSubject(subject));
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
    const parsed = typeof mode === 'string' ? mode.toUpperCase() : mode;
    if (!MODES.includes(parsed as Mode)) throw RegistryErrors.invalidMode(mode);
    if (subject !== null) checkSubject(subject);
    return this.#log.write((state) => {
      if (parsed === 'IMPORT' && !force) {
        const holding = subject === null ? state.subjects().length > 0 : state.versions(subject).length > 0;
        if (holding)
          throw RegistryErrors.operationNotPermitted(
            'Cannot import since found existing subjects: use force=true to switch to IMPORT anyway',
          );
      }
      return {
        records: [{ kind: 'MODE', subject, value: { mode: parsed as Mode } }],
        result: parsed as Mode,
      };
    });
  }

  async deleteMode(subject: string | null): Promise<Mode> {
    return this.#log.write((state) => {
      const was = subject === null ? this.mode(null) : state.mode(checkSubject(subject));
      if (was === undefined) throw RegistryErrors.subjectNotFound(subject!);
      return { records: [{ kind: 'MODE', subject, value: null }], result: was };
    });
  }

  /** Parses a schema the registry holds, with its references; parsed schemas are cached by identity. */
  parsed(stored: SchemaDefinition): ParsedSchema {
    return this.#parse(stored);
  }

  /** Waits until this registry has read what any registry committed before now. */
  sync(): Promise<void> {
    return this.#log.sync();
  }

  close(): Promise<void> {
    return this.#log.close();
  }

  #prepare(
    definition: SchemaDefinition,
    normalize: boolean,
  ): { definition: SchemaDefinition; parsed: ParsedSchema } {
    const bytes = Buffer.byteLength(definition.schema);
    if (bytes > this.#maxSchemaBytes)
      throw RegistryErrors.invalidSchema(
        `the schema is ${bytes} bytes, over the limit of ${this.#maxSchemaBytes} bytes`,
      );
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

  #find(subject: string, version: number, includeDeleted: boolean): StoredVersion {
    checkSubject(subject);
    const versions = this.#state.versions(subject, true);
    if (versions.length === 0) throw RegistryErrors.subjectNotFound(subject);
    if (version === LATEST) {
      const latest = versions.filter((v) => includeDeleted || !v.deleted).at(-1);
      if (!latest) throw RegistryErrors.subjectNotFound(subject);
      return latest;
    }
    const stored = versions.find((v) => v.version === version);
    if (!stored || (stored.deleted && !includeDeleted)) throw RegistryErrors.versionNotFound(version);
    return stored;
  }

  #checkWritable(state: RegistryState, subject: string): void {
    const mode = this.#modeOf(state, subject);
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE')
      throw RegistryErrors.operationNotPermitted(`Subject ${subject} is in read-only mode`);
  }

  #checkUnreferenced(state: RegistryState, versions: readonly StoredVersion[]): void {
    for (const v of versions) {
      const users = state.referencedBy(v.subject, v.version);
      if (users.length > 0)
        throw RegistryErrors.referenceExists(
          `One or more references exist to the schema {subject=${v.subject},version=${v.version}}: ${users.map((u) => `${u.subject} version ${u.version}`).join(', ')}`,
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
