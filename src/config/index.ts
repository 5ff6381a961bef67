export {
  type AssembleOptions,
  type Assembly,
  archivedTopics,
  assemble,
  openArchiveStore,
  openBus,
} from './assemble.ts';
export { parseBusUrl } from './bus-url.ts';
export { renderConfigDocs } from './config-docs.ts';
export { createKey, listKeys, readKeysFile, revokeKey, watchKeysFile } from './keys-file.ts';
export { CONFIG_FILES, defineConfig, loadConfig } from './load.ts';
export { configSchema, type KappaConfig, type KappaConfigInput } from './schema.ts';
