/** Kafka transactions in the core: the coordinator (state per transactional id) and the per-partition index. */
export { TransactionCoordinator, type TransactionCoordinatorOptions, type TransactionHost, type TxnErrorName, type TxnMetadata, type TxnState, type PendingOffset } from './transaction-coordinator.js';
export { PartitionTxnIndex, PartitionTxns, type AbortedTxn } from './partition-txn-index.js';
export { CommittedLogView, readCommitted, type CommittedRead } from './committed-log-view.js';
