/**
 * Router: the pub/sub half of the core. One subject namespace (subject.ts); live subscriptions get
 * at-most-once fan-out, captures (streams whose subjects match) get every message durably. Every protocol
 * publishes here after translating its names (translate.ts), and subscribes here for its live consumers.
 *
 * publish(message):
 *   1. captures: each capture target whose filters match gets `target.capture(message)` once, even when
 *      several of its filters match (a Kafka topic `a.b` with the extra filter `a.>` stores a message once);
 *   2. subscriptions: each matching subscription without a queue group gets `handler(message, subscription)`
 *      once, even when several of its filters match; among matching subscriptions that share a queue group
 *      name one member, chosen at random as nats-server does, gets it. Groups are identified by name alone:
 *      like NATS, members with different filters in one group are one group.
 *   Subscriptions with `noLocal` skip messages whose `origin` is their own `origin` (NATS echo:false, MQTT
 *   No Local); a queue group picks only among members that accept the message.
 *
 * Invariants:
 * - Delivery is synchronous and at-most-once: the handler is called in publish() and must not block; it
 *   queues to its connection's bounded buffer (DESIGN.md "Backpressure"). The message object is shared by
 *   every handler and capture: none may mutate it.
 * - A handler or capture that throws does not stop delivery to the others: the error is counted, logged once
 *   per subscription (so a broken handler cannot flood the log), and publish() carries on.
 * - Handlers may subscribe, unsubscribe and publish re-entrantly. A subscription removed during a fan-out
 *   gets no further messages from it (each delivery checks `closed`); one added during it may or may not get
 *   the current message.
 * - The publish path allocates nothing when the subject's match is cached (SubjectTrie), beyond what the
 *   handlers do: queue-group picks use per-group slots reused across publishes.
 *
 * The `$` rule: subscriptions made with `excludeDollar: true` (MQTT) do not get `$`-subjects through a filter
 * that starts with a wildcard ([MQTT-4.7.2-1]); others (NATS) do. Captures follow the NATS behaviour.
 */
import { BrokerError } from '../broker-error.js';
import type { Message } from '../message.js';
import { SubjectTrie } from './subject-trie.js';
import { validateSubjectFilter } from './subject.js';

export type MessageHandler = (message: Message, subscription: Subscription) => void;

export interface SubscribeOptions {
  /** Queue group name: each message goes to one member of the group (NATS queue subscription, MQTT $share). */
  queueGroup?: string;
  /** Skip messages whose `origin` is this subscription's `origin` (NATS echo:false, MQTT 5 No Local). */
  noLocal?: boolean;
  /** The subscriber's connection identity, compared with Message.origin for noLocal. */
  origin?: object;
  /** [MQTT-4.7.2-1]: wildcard-first filters do not match `$`-subjects. Default false (NATS). */
  excludeDollar?: boolean;
}

/**
 * Something that stores captured messages (a Stream). The Router does not await it; what it returns (a Stream
 * returns the append's promise) is handed to a publisher that asked for it through publish()'s captureResults.
 */
export interface CaptureTarget {
  capture(message: Message): unknown;
}

export interface RouterLogger {
  warn(obj: object, msg: string): void;
}

export interface RouterOptions {
  /** Cached subject matches per trie (subscriptions, captures). Default 1024. */
  cacheSize?: number;
  /** Where handler and capture failures are reported (once per subscription / target). */
  logger?: RouterLogger;
  /** Random source in [0, 1) for queue-group picks; tests inject a deterministic one. Default Math.random. */
  random?: () => number;
}

export interface RouterStats {
  /** Live subscriptions (a subscription with several filters counts once). */
  subscriptions: number;
  /** Of which in a queue group. */
  queueSubscriptions: number;
  /** Distinct queue group names with at least one member. */
  queueGroups: number;
  /** Capture targets with at least one filter. */
  captureTargets: number;
  /** (filter, target) capture pairs. */
  captureFilters: number;
  published: number;
  /** Handler calls that returned normally. */
  delivered: number;
  /** capture() calls that returned normally (the append itself completes later). */
  captured: number;
  /** Published messages that matched no subscription and no capture. */
  unrouted: number;
  handlerErrors: number;
  captureErrors: number;
  cacheHits: number;
  cacheMisses: number;
}

/** A live subscription. Returned by Router.subscribe; `unsubscribe()` ends it. */
export interface Subscription {
  /** The subject filters it was made with (one, or two for a translated MQTT `a/#`). */
  readonly filters: readonly string[];
  readonly queueGroup: string | undefined;
  readonly noLocal: boolean;
  readonly origin: object | undefined;
  readonly excludeDollar: boolean;
  /** Messages handed to the handler so far (those it threw on included). */
  readonly deliveries: number;
  readonly closed: boolean;
  /** Ends the subscription; false when it had already ended. */
  unsubscribe(): boolean;
}

class RouterSubscription implements Subscription {
  deliveries = 0;
  closed = false;
  /** A failure has been logged for it already. */
  loggedFailure = false;

  constructor(
    private readonly router: Router,
    readonly filters: readonly string[],
    readonly handler: MessageHandler,
    readonly queueGroup: string | undefined,
    readonly noLocal: boolean,
    readonly origin: object | undefined,
    readonly excludeDollar: boolean,
  ) {}

  unsubscribe(): boolean {
    return this.router.unsubscribe(this);
  }
}

/** Per queue group, reused across publishes: the member picked so far this publish, by reservoir sampling. */
interface GroupSlot {
  members: number;
  epoch: number;
  seen: number;
  chosen: RouterSubscription | null;
}

interface CaptureState {
  filters: Set<string>;
  loggedFailure: boolean;
}

export class Router {
  private readonly subs: SubjectTrie<RouterSubscription>;
  private readonly captures: SubjectTrie<CaptureTarget>;
  private readonly captureState = new Map<CaptureTarget, CaptureState>();
  private readonly groups = new Map<string, GroupSlot>();
  /** Slots touched by the current publish, to finish them without scanning every group. */
  private readonly touched: GroupSlot[] = [];
  /** The members picked by the outermost publish in progress. */
  private readonly picked: RouterSubscription[] = [];
  /** Nesting of publishes inside group deliveries (handlers that publish). */
  private groupDepth = 0;
  private readonly logger: RouterLogger | undefined;
  private readonly random: () => number;
  private epoch = 0;
  private subscriptionCount = 0;
  private queueSubscriptionCount = 0;
  private captureFilterCount = 0;
  private published = 0;
  private delivered = 0;
  private captured = 0;
  private unrouted = 0;
  private handlerErrors = 0;
  private captureErrors = 0;

  constructor(options: RouterOptions = {}) {
    const cacheSize = options.cacheSize ?? 1024;
    // unique: one delivery per subscription (or capture target) even when several of its filters match.
    this.subs = new SubjectTrie<RouterSubscription>({ cacheSize, unique: true });
    this.captures = new SubjectTrie<CaptureTarget>({ cacheSize, unique: true });
    this.logger = options.logger;
    this.random = options.random ?? Math.random;
  }

  /**
   * Subscribes `handler` to one filter or several (the filters of one translated MQTT filter). Throws
   * TRIB_SUBJECT_INVALID for an invalid filter (nothing is subscribed then).
   */
  subscribe(filter: string | readonly string[], handler: MessageHandler, options: SubscribeOptions = {}): Subscription {
    const filters = typeof filter === 'string' ? [filter] : [...new Set(filter)];
    if (filters.length === 0) throw new BrokerError('TRIB_SUBJECT_INVALID', 'a subscription needs at least one subject filter');
    for (const f of filters) validateSubjectFilter(f);
    const queueGroup = options.queueGroup;
    if (queueGroup !== undefined && (typeof queueGroup !== 'string' || queueGroup.length === 0)) {
      throw new BrokerError('TRIB_INVALID_NAME', 'a queue group name must be a non-empty string');
    }
    const sub = new RouterSubscription(this, Object.freeze(filters), handler, queueGroup, options.noLocal === true, options.origin, options.excludeDollar === true);
    for (const f of filters) this.subs.insert(f, sub, { excludeDollar: sub.excludeDollar });
    this.subscriptionCount++;
    if (queueGroup !== undefined) {
      this.queueSubscriptionCount++;
      const slot = this.groups.get(queueGroup);
      if (slot === undefined) this.groups.set(queueGroup, { members: 1, epoch: 0, seen: 0, chosen: null });
      else slot.members++;
    }
    return sub;
  }

  /** Ends a subscription (same as subscription.unsubscribe()); false when it had already ended. */
  unsubscribe(subscription: Subscription): boolean {
    if (!(subscription instanceof RouterSubscription) || subscription.closed) return false;
    subscription.closed = true;
    for (const f of subscription.filters) this.subs.remove(f, subscription);
    this.subscriptionCount--;
    const group = subscription.queueGroup;
    if (group !== undefined) {
      this.queueSubscriptionCount--;
      const slot = this.groups.get(group)!;
      if (--slot.members === 0) this.groups.delete(group);
    }
    return true;
  }

  /**
   * Makes `target` capture messages whose subject matches `filter`. Idempotent per (filter, target). Throws
   * TRIB_SUBJECT_INVALID for an invalid filter.
   */
  addCapture(filter: string, target: CaptureTarget): void {
    if (!this.captures.insert(filter, target)) return;
    this.captureFilterCount++;
    let state = this.captureState.get(target);
    if (state === undefined) {
      state = { filters: new Set(), loggedFailure: false };
      this.captureState.set(target, state);
    }
    state.filters.add(filter);
  }

  /** Stops capturing `filter` into `target`; false when it was not captured. */
  removeCapture(filter: string, target: CaptureTarget): boolean {
    const state = this.captureState.get(target);
    if (state === undefined || !state.filters.has(filter)) return false;
    this.captures.remove(filter, target);
    this.captureFilterCount--;
    state.filters.delete(filter);
    if (state.filters.size === 0) this.captureState.delete(target);
    return true;
  }

  /** Removes every capture of `target` (its stream was deleted); returns how many filters were removed. */
  removeCaptures(target: CaptureTarget): number {
    const state = this.captureState.get(target);
    if (state === undefined) return 0;
    const filters = [...state.filters];
    for (const f of filters) this.removeCapture(f, target);
    return filters.length;
  }

  /** The filters `target` captures. */
  captureFilters(target: CaptureTarget): string[] {
    return [...(this.captureState.get(target)?.filters ?? [])];
  }

  /**
   * Routes a message: captures first, then live subscriptions. Returns the number of live deliveries (handler
   * calls that returned normally). Throws TRIB_SUBJECT_INVALID for an invalid subject (nothing is delivered).
   *
   * `captureResults`, when given, receives what each capture target returned (for a Stream, the promise of its
   * durable append), so a publisher that must acknowledge only after storage (AMQP confirm, MQTT PUBACK, Kafka
   * acks) can await them. A target that threw adds nothing.
   */
  publish(message: Message, captureResults?: unknown[]): number {
    const subject = message.subject;
    const subs = this.subs.match(subject);
    const targets = this.captures.match(subject);
    this.published++;
    if (subs.length === 0 && targets.length === 0) {
      this.unrouted++;
      return 0;
    }
    for (let i = 0; i < targets.length; i++) this.capture(targets[i], message, captureResults);
    if (subs.length === 0) return 0;
    return this.fanOut(subs, message);
  }

  /**
   * Live subscriptions only, no captures: for a message that is already stored (a Kafka produce appended to
   * the topic's stream), so capturing it again would store it twice. Same delivery rules as publish().
   * Returns the number of live deliveries; throws TRIB_SUBJECT_INVALID for an invalid subject.
   */
  deliverLive(message: Message): number {
    const subs = this.subs.match(message.subject);
    this.published++;
    if (subs.length === 0) {
      this.unrouted++;
      return 0;
    }
    return this.fanOut(subs, message);
  }

  /** Delivers to the matching subscriptions `subs`: each ungrouped one, then one member per queue group. */
  private fanOut(subs: readonly RouterSubscription[], message: Message): number {
    const origin = message.origin;
    let deliveries = 0;
    let grouped = false;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i];
      if (sub.queueGroup !== undefined) {
        grouped = true;
        continue;
      }
      if (sub.noLocal && origin !== undefined && origin === sub.origin) continue;
      if (this.deliver(sub, message)) deliveries++;
    }
    if (grouped) deliveries += this.deliverToGroups(subs, message);
    return deliveries;
  }

  /** True when a subscription or a capture matches `subject` (NATS no-responders, MQTT 0x10 No matching subscribers). */
  hasInterest(subject: string): boolean {
    return this.subs.hasMatch(subject) || this.captures.hasMatch(subject);
  }

  /** True when a live subscription matches `subject` (captures not counted). */
  hasSubscribers(subject: string): boolean {
    return this.subs.hasMatch(subject);
  }

  /** The live subscriptions matching `subject` (shared array; do not mutate). */
  matchSubscriptions(subject: string): readonly Subscription[] {
    return this.subs.match(subject);
  }

  stats(): RouterStats {
    const a = this.subs.stats();
    const b = this.captures.stats();
    return {
      subscriptions: this.subscriptionCount,
      queueSubscriptions: this.queueSubscriptionCount,
      queueGroups: this.groups.size,
      captureTargets: this.captureState.size,
      captureFilters: this.captureFilterCount,
      published: this.published,
      delivered: this.delivered,
      captured: this.captured,
      unrouted: this.unrouted,
      handlerErrors: this.handlerErrors,
      captureErrors: this.captureErrors,
      cacheHits: a.cacheHits + b.cacheHits,
      cacheMisses: a.cacheMisses + b.cacheMisses,
    };
  }

  private deliver(sub: RouterSubscription, message: Message): boolean {
    // An earlier handler in this fan-out may have ended it.
    if (sub.closed) return false;
    sub.deliveries++;
    try {
      sub.handler(message, sub);
      this.delivered++;
      return true;
    } catch (err) {
      this.handlerErrors++;
      if (!sub.loggedFailure) {
        sub.loggedFailure = true;
        this.logger?.warn({ err, subject: message.subject, filters: sub.filters, queueGroup: sub.queueGroup }, 'subscription handler threw; further failures of this subscription are counted, not logged');
      }
      return false;
    }
  }

  private capture(target: CaptureTarget, message: Message, results: unknown[] | undefined): void {
    try {
      const result = target.capture(message);
      this.captured++;
      if (results !== undefined) results.push(result);
    } catch (err) {
      this.captureErrors++;
      const state = this.captureState.get(target);
      if (state !== undefined && !state.loggedFailure) {
        state.loggedFailure = true;
        this.logger?.warn({ err, subject: message.subject }, 'capture target threw; further failures of this target are counted, not logged');
      }
    }
  }

  /** One member per queue group among `subs`, by reservoir sampling over the eligible members. */
  private deliverToGroups(subs: readonly RouterSubscription[], message: Message): number {
    const epoch = ++this.epoch;
    const touched = this.touched;
    const origin = message.origin;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i];
      const name = sub.queueGroup;
      if (name === undefined || sub.closed) continue;
      if (sub.noLocal && origin !== undefined && origin === sub.origin) continue;
      const slot = this.groups.get(name);
      if (slot === undefined) continue;
      if (slot.epoch !== epoch) {
        slot.epoch = epoch;
        slot.seen = 0;
        slot.chosen = null;
        touched.push(slot);
      }
      slot.seen++;
      if (slot.seen === 1 || this.random() * slot.seen < 1) slot.chosen = sub;
    }
    // Picks move out of the shared slots before any handler runs: a handler may publish re-entrantly, which
    // reuses the slots. Only the outermost publish uses the scratch array, so the common case allocates nothing.
    const picked = this.groupDepth === 0 ? this.picked : [];
    const base = picked.length;
    for (let i = 0; i < touched.length; i++) {
      const chosen = touched[i].chosen;
      touched[i].chosen = null;
      if (chosen !== null) picked.push(chosen);
    }
    touched.length = 0;
    let deliveries = 0;
    this.groupDepth++;
    try {
      for (let i = base; i < picked.length; i++) if (this.deliver(picked[i], message)) deliveries++;
    } finally {
      this.groupDepth--;
      picked.length = base;
    }
    return deliveries;
  }
}
