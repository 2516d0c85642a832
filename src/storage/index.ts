export * from './record-batch.js';
export * from './log.js';
export { MemoryLog } from './memory-log.js';
export { StorageError, type StorageErrorCode } from './storage-error.js';
export { PartitionLog, type PartitionLogOptions } from './partition-log.js';
export type { CompactionResult } from './compaction.js';
export type { StorageLogger } from './recovery.js';
