/**
 * The cursor: the consuming side of queues (AMQP queues, JetStream consumers, Pulsar subscriptions) and
 * delayed delivery. See docs/cursor.md.
 */
export { AckSet } from './ack-set.js';
export { Consumer, Dispatch, hashKey, type ConsumerOptions, type DispatchMode } from './dispatch.js';
export {
  CursorState,
  systemClock,
  systemTimers,
  type Clock,
  type CursorSink,
  type CursorSnapshot,
  type CursorStateOptions,
  type DeadLetterDecision,
  type DeadLetterReason,
  type Delivery,
  type LevelSnapshot,
  type TimerScheduler,
} from './cursor-state.js';
export { clampSnapshot } from './clamp-snapshot.js';
export { Cursor, type CursorOptions, type DeliveryRef, type FetchOptions, type StartPolicy } from './cursor.js';
export { CursorStore, type CursorStateSource, type CursorStoreOptions } from './cursor-store.js';
export {
  DELAY_KEY_HEADER,
  DELAY_TARGET_HEADER,
  DelayScheduler,
  decodeDelayKey,
  encodeDelayKey,
  releasedRecord,
  type DelaySchedulerOptions,
} from './delay-scheduler.js';
