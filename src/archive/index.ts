export { ArchiveCorruptError, ArchiveFormatError } from './archive-errors.ts';
export { type ArchivedEvent, archived } from './archive-events.ts';
export { type ArchiveReadOptions, readArchivedPartition } from './archive-reader.ts';
export { Archiver, type ArchiverOptions } from './archiver.ts';
export { type HistoryOptions, readHistory } from './history.ts';
export { type HistoryConsumerOptions, historyConsumer } from './history-consumer.ts';
export {
  ARCHIVE_FORMAT,
  type ArchivedFile,
  archivedPartitions,
  fileKey,
  manifestKey,
  type PartitionManifest,
  readManifest,
} from './manifest.ts';
export { ParquetFiles } from './parquet-file.ts';
