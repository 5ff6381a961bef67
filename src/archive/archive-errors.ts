import { ErrorCodes, KappaError, type KappaErrorOptions } from '../core/index.ts';

/** A manifest or file of a newer archive format than this Kappa reads, or not an archive's at all. */
export class ArchiveFormatError extends KappaError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(ErrorCodes.ARCHIVE_FORMAT, 'internal', `${key}: ${message}`);
    this.key = key;
  }
}

/** An archived Parquet file that cannot be read, or holds other records than its manifest says. */
export class ArchiveCorruptError extends KappaError {
  readonly key: string;
  constructor(key: string, message: string, options?: KappaErrorOptions) {
    super(ErrorCodes.ARCHIVE_CORRUPT, 'data', `Archive file ${key} is unreadable: ${message}`, options);
    this.key = key;
  }
}
