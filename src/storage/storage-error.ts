/**
 * StorageError: a failure inside the storage layer. Storage may import only wire/, so it cannot throw the
 * core's BrokerError; it uses the same stable `TRIB_*` codes instead (listed in core/broker-error.ts), and
 * sessions map either by `code`.
 */
export type StorageErrorCode =
  | 'TRIB_OFFSET_OUT_OF_RANGE'
  | 'TRIB_MESSAGE_TOO_LARGE'
  | 'TRIB_CORRUPT_RECORD'
  | 'TRIB_LOG_CLOSED'
  | 'TRIB_STORAGE_IO'
  | 'TRIB_DATA_DIR_INCOMPATIBLE'
  | 'TRIB_INVALID_CONFIG';

export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}
