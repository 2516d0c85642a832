export * from './record-batch.js';
export * from './log.js';
export { MemoryLog } from './memory-log.js';
export { StorageError, type StorageErrorCode } from './storage-error.js';
