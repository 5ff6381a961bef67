import { type ErrorCode, ErrorCodes, KappaError } from '../core/index.ts';

/**
 * A registry error carries the HTTP status and `error_code` Confluent's registry answers with, so
 * clients written for Confluent read our errors as theirs. The messages are Confluent's, with more
 * detail where theirs leaves the user guessing.
 */
export class RegistryError extends KappaError {
  readonly status: number;
  readonly errorCode: number;
  constructor(code: ErrorCode, status: number, errorCode: number, message: string, cause?: unknown) {
    super(code, status >= 500 ? 'external' : 'user', message, cause === undefined ? {} : { cause });
    this.status = status;
    this.errorCode = errorCode;
  }
}

const notFound = (errorCode: number, message: string) =>
  new RegistryError(ErrorCodes.SCHEMA_NOT_FOUND, 404, errorCode, message);
const rejected = (status: number, errorCode: number, message: string) =>
  new RegistryError(ErrorCodes.SCHEMA_OPERATION_REJECTED, status, errorCode, message);
const invalid = (errorCode: number, message: string, cause?: unknown) =>
  new RegistryError(ErrorCodes.SCHEMA_INVALID, 422, errorCode, message, cause);

export const RegistryErrors = {
  subjectNotFound: (subject: string) => notFound(40401, `Subject '${subject}' not found.`),
  versionNotFound: (version: number | string) => notFound(40402, `Version ${version} not found.`),
  schemaNotFound: (what: number | string = '') =>
    notFound(40403, typeof what === 'number' ? `Schema ${what} not found` : `Schema not found${what}`),
  subjectSoftDeleted: (subject: string) =>
    notFound(40404, `Subject '${subject}' was soft deleted.Set permanent=true to delete permanently`),
  subjectNotSoftDeleted: (subject: string) =>
    notFound(40405, `Subject '${subject}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (subject: string, version: number) =>
    notFound(
      40406,
      `Subject '${subject}' Version ${version} was soft deleted.Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (subject: string, version: number) =>
    notFound(
      40407,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    ),
  compatibilityNotConfigured: (subject: string) =>
    notFound(40408, `Subject '${subject}' does not have subject-level compatibility configured`),
  modeNotConfigured: (subject: string) =>
    notFound(40409, `Subject '${subject}' does not have subject-level mode configured`),
  invalidSchema: (message: string, cause?: unknown) => invalid(42201, `Invalid schema: ${message}`, cause),
  invalidVersion: (version: string) =>
    invalid(
      42202,
      `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibilityLevel: (level: unknown) =>
    invalid(
      42203,
      `Invalid compatibility level ${JSON.stringify(level)}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
    ),
  invalidMode: (mode: unknown) =>
    invalid(42204, `Invalid mode ${JSON.stringify(mode)}. Valid values are READWRITE, READONLY, and IMPORT.`),
  operationNotPermitted: (message: string) => rejected(422, 42205, message),
  referenceExists: (message: string) => rejected(422, 42206, message),
  invalidSubject: (subject: string, reason: string) =>
    invalid(42208, `The specified subject '${subject}' is not a valid: ${reason}`),
  schemaTooLarge: (bytes: number, limit: number) =>
    invalid(
      42209,
      `Register operation failed because schema is too large: ${bytes} bytes, over the limit of ${limit} bytes (registry.maxSchemaBytes)`,
    ),
  incompatible: (subject: string, messages: readonly string[]) =>
    new RegistryError(
      ErrorCodes.SCHEMA_INCOMPATIBLE,
      409,
      409,
      `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${messages.join(', ')}]`,
    ),
  storeError: (message: string, cause?: unknown) =>
    new RegistryError(ErrorCodes.IO, 500, 50001, `Error in the backend datastore: ${message}`, cause),
  timeout: (message: string) => new RegistryError(ErrorCodes.TIMEOUT, 500, 50002, message),
} as const;

/** A value does not match its schema, or bytes do not decode with it: a poison record. */
export class RecordInvalidError extends KappaError {
  /** Where in the value, e.g. `$.items[2].price`. */
  readonly path: string;
  constructor(message: string, path = '$', cause?: unknown) {
    super(ErrorCodes.RECORD_INVALID, 'data', message, cause === undefined ? {} : { cause });
    this.path = path;
  }
}
