/**
 * AmqpTopicTrie<T>: values stored under AMQP topic binding patterns, looked up by routing key — what a topic
 * exchange routes with. RabbitMQ semantics (rabbit_exchange_type_topic): words split on `.` (the empty key has
 * zero words, `a..b` has an empty middle word), `*` matches exactly one word (an empty one too), `#` matches
 * zero or more words, any other word (including `a*` or `%`) matches itself. Subject filters cannot express
 * `#` in the middle (translate.ts), hence this separate matcher.
 *
 * Matching runs the trie as an NFA, one word at a time over the set of live nodes, instead of RabbitMQ's
 * backtracking: a `#` node loops on any word and is entered without consuming one (its epsilon edge). Each
 * node enters the set at most once per word (an epoch mark, no Set allocated), so a lookup costs
 * O(words × live nodes) however many `#` the patterns hold — no exponential case for hostile bindings like
 * `#.a.#.a.#.a`.
 *
 * Invariants:
 * - A (pattern, value) pair is stored at most once; values compare by identity. Consecutive `#` collapse on
 *   insert (`a.#.#` is `a.#`), which is equivalent and keeps the NFA small.
 * - Each stored pair appears at most once in a result (a node is in the final set at most once).
 * - Results are cached per routing key (bounded, FIFO); any insert or remove clears the cache, because bindings
 *   change rarely next to publishes. Result arrays are never mutated after they are returned; do not mutate them.
 */
import { amqpWords } from './translate.js';

export interface AmqpTopicTrieOptions {
  /** Cached match results (routing keys); 0 disables. Default 1024. */
  cacheSize?: number;
}

class Node<T> {
  literal: Map<string, Node<T>> | null = null;
  star: Node<T> | null = null;
  hash: Node<T> | null = null;
  values: Set<T> | null = null;
  /** Epoch of the last step that put this node in the live set. */
  mark = 0;

  constructor(readonly isHash: boolean) {}

  isEmpty(): boolean {
    return (this.values === null || this.values.size === 0) && (this.literal === null || this.literal.size === 0) && this.star === null && this.hash === null;
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

/** A pattern's words with runs of `#` collapsed to one. */
function patternWords(pattern: string): string[] {
  const words = amqpWords(pattern);
  const out: string[] = [];
  for (const w of words) if (!(w === '#' && out[out.length - 1] === '#')) out.push(w);
  return out;
}

export class AmqpTopicTrie<T> {
  private readonly root = new Node<T>(false);
  private readonly cache = new Map<string, readonly T[]>();
  private readonly cacheSize: number;
  private epoch = 0;
  private _size = 0;
  private current: Node<T>[] = [];
  private next: Node<T>[] = [];

  constructor(options: AmqpTopicTrieOptions = {}) {
    this.cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 1024));
  }

  get size(): number {
    return this._size;
  }

  /** Stores `value` under `pattern`; false when already there. Any string is a valid pattern. */
  insert(pattern: string, value: T): boolean {
    let node = this.root;
    for (const w of patternWords(pattern)) {
      if (w === '#') node = node.hash ??= new Node<T>(true);
      else if (w === '*') node = node.star ??= new Node<T>(false);
      else {
        const map = (node.literal ??= new Map());
        let child = map.get(w);
        if (child === undefined) {
          child = new Node<T>(false);
          map.set(w, child);
        }
        node = child;
      }
    }
    const values = (node.values ??= new Set());
    if (values.has(value)) return false;
    values.add(value);
    this._size++;
    this.cache.clear();
    return true;
  }

  /** Removes the pair; false when it was not stored. Empty nodes are pruned. */
  remove(pattern: string, value: T): boolean {
    const words = patternWords(pattern);
    const path: Node<T>[] = [this.root];
    let node: Node<T> | null | undefined = this.root;
    for (let i = 0; i < words.length && node != null; i++) {
      const w = words[i];
      node = w === '#' ? node.hash : w === '*' ? node.star : node.literal?.get(w);
      if (node != null) path.push(node);
    }
    if (node == null || node.values === null || !node.values.delete(value)) return false;
    this._size--;
    for (let i = path.length - 1; i > 0 && path[i].isEmpty(); i--) {
      const parent = path[i - 1];
      const w = words[i - 1];
      if (w === '#') parent.hash = null;
      else if (w === '*') parent.star = null;
      else parent.literal!.delete(w);
    }
    this.cache.clear();
    return true;
  }

  /** The values whose patterns match `routingKey`. The array is shared; do not mutate it. */
  match(routingKey: string): readonly T[] {
    const hit = this.cache.get(routingKey);
    if (hit !== undefined) return hit;
    const result = this.compute(routingKey);
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(routingKey, result);
    }
    return result;
  }

  private compute(routingKey: string): readonly T[] {
    let current = this.current;
    let next = this.next;
    current.length = 0;
    const epoch = ++this.epoch;
    this.enter(this.root, current, epoch);
    // Walk the words without splitting the key: one substring per word, no array.
    let start = 0;
    const n = routingKey.length;
    if (n > 0) {
      for (let i = 0; i <= n && current.length > 0; i++) {
        if (i < n && routingKey.charCodeAt(i) !== 0x2e) continue;
        const word = routingKey.substring(start, i);
        start = i + 1;
        next.length = 0;
        const e = ++this.epoch;
        for (const s of current) {
          if (s.isHash) this.enter(s, next, e); // `#` consumes this word and stays
          const child = s.literal?.get(word);
          if (child !== undefined) this.enter(child, next, e);
          if (s.star !== null) this.enter(s.star, next, e);
        }
        const swap = current;
        current = next;
        next = swap;
      }
    }
    this.current = current;
    this.next = next;
    let out: T[] | null = null;
    for (const s of current) {
      if (s.values === null || s.values.size === 0) continue;
      out ??= [];
      for (const v of s.values) out.push(v);
    }
    current.length = 0;
    return out ?? EMPTY;
  }

  /** Adds `node` and everything reachable from it through `#` without consuming a word (epsilon closure). */
  private enter(node: Node<T>, into: Node<T>[], epoch: number): void {
    for (let n: Node<T> | null = node; n !== null && n.mark !== epoch; n = n.hash) {
      n.mark = epoch;
      into.push(n);
    }
  }
}

/** Does one AMQP topic pattern match one routing key? (RabbitMQ semantics; for one-off checks and tests.) */
export function amqpTopicMatches(pattern: string, routingKey: string): boolean {
  const p = patternWords(pattern);
  const k = amqpWords(routingKey);
  // Dynamic programming over (pattern position, key position): linear space, no backtracking blow-up.
  let reach = new Array<boolean>(k.length + 1).fill(false);
  reach[0] = true;
  for (const w of p) {
    const nextReach = new Array<boolean>(k.length + 1).fill(false);
    if (w === '#') {
      let any = false;
      for (let j = 0; j <= k.length; j++) {
        any = any || reach[j];
        nextReach[j] = any;
      }
    } else {
      for (let j = 0; j < k.length; j++) if (reach[j] && (w === '*' || w === k[j])) nextReach[j + 1] = true;
    }
    reach = nextReach;
  }
  return reach[k.length];
}
