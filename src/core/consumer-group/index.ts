/** Kafka's classic consumer groups in the core: membership state machine, coordinator, committed offsets. */
export { ConsumerGroup, REAL_TIMERS, type ConsumerGroupOptions, type GroupDescription, type GroupErrorName, type GroupState, type GroupTimers, type JoinRequest, type JoinResult, type SyncRequest, type SyncResult, type MemberDescription, type GroupProtocol } from './consumer-group.js';
export { GroupCoordinator, type GroupListing } from './group-coordinator.js';
export { OffsetStore, CONSUMER_OFFSETS_STREAM, type CommittedOffset, type OffsetCommitInput } from './offset-store.js';
