/**
 * SubjectTrie<T>: values stored under subject filters, looked up by subject — the index behind the Router's
 * subscriptions and captures. Modelled on nats-server's Sublist: one node per filter token, each node with a
 * map of literal children plus a `*` child and a `>` child, and a bounded cache of match results.
 *
 * Matching a subject of n tokens walks at most the literal, `*` and `>` branches at each level, so its cost
 * depends on how many filters could match, not on how many filters there are (a linear scan is the baseline
 * in bench/router.ts).
 *
 * Invariants:
 * - A (filter, value) pair is stored at most once; values compare by identity (===).
 * - match() returns a result array owned by the trie and shared with the cache: callers must not mutate it,
 *   and it stays valid (it is never changed in place) after later inserts and removes, so a caller may iterate
 *   it while its callbacks subscribe or unsubscribe. A cache hit allocates nothing; a miss allocates the
 *   tokens and the result.
 * - Results list a value once per matching filter it was inserted under, in no specified order; with
 *   `unique: true` each value appears once (deduplicated when the result is built, so hits stay free).
 * - The cache holds at most `cacheSize` subjects (FIFO eviction). insert/remove of a literal filter drops
 *   that one cached subject; of a wildcard filter, every cached subject it matches. So churn of unrelated
 *   subscriptions (a request inbox per request) does not flush the whole cache.
 *
 * The `$` rule ([MQTT-4.7.2-1]): a filter whose first token is a wildcard must not match a subject whose first
 * token starts with '$' (`$SYS.broker.load`), so `#`/`+/x` subscribers do not see system topics. NATS has no
 * such rule (`>` matches `$SYS.x`). Both live in one trie, so the rule is per entry or per lookup:
 * - insert(filter, value, { excludeDollar: true }): this entry follows the rule (an MQTT subscription);
 * - match(subject, { excludeDollar: true }): every entry follows the rule for this lookup.
 *
 * Concurrency: single-threaded; no method calls back into user code, so re-entrancy cannot corrupt it.
 */
import { FULL_WILDCARD, SINGLE_WILDCARD, isDollarSubject, subjectProblem, tokenizeSubjectFilter } from './subject.js';
import { BrokerError } from '../broker-error.js';

export interface SubjectTrieOptions {
  /** Cached match results (subjects); 0 disables the cache. Default 1024, as nats-server's sublist. */
  cacheSize?: number;
  /** Deduplicate results so each value appears once even if several of its filters match. Default false. */
  unique?: boolean;
}

export interface TrieInsertOptions {
  /** This entry does not match `$`-subjects through a first-token wildcard ([MQTT-4.7.2-1]). */
  excludeDollar?: boolean;
}

export interface TrieMatchOptions {
  /** Apply the `$` rule to every entry for this lookup, however it was inserted. */
  excludeDollar?: boolean;
}

export interface SubjectTrieStats {
  /** Stored (filter, value) pairs. */
  entries: number;
  /** Subjects currently cached. */
  cachedSubjects: number;
  cacheHits: number;
  cacheMisses: number;
}

class TrieNode<T> {
  literal: Map<string, TrieNode<T>> | null = null;
  star: TrieNode<T> | null = null;
  full: TrieNode<T> | null = null;
  /** Entries that match any subject reaching this node. */
  values: Set<T> | null = null;
  /** Entries inserted with excludeDollar: skipped for `$` subjects reached through a first-token wildcard. */
  noDollar: Set<T> | null = null;

  constructor(readonly filter: string) {}

  isEmpty(): boolean {
    return (
      (this.values === null || this.values.size === 0) &&
      (this.noDollar === null || this.noDollar.size === 0) &&
      (this.literal === null || this.literal.size === 0) &&
      this.star === null &&
      this.full === null
    );
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

export class SubjectTrie<T> {
  private readonly root = new TrieNode<T>('');
  private readonly cacheSize: number;
  private readonly unique: boolean;
  /** Results for lookups without options. */
  private readonly cache = new Map<string, readonly T[]>();
  /** Results for lookups with excludeDollar (a different answer for `$` subjects only, but keyed apart for simplicity). */
  private readonly cacheNoDollar = new Map<string, readonly T[]>();
  /** Reused by every miss: match() is synchronous and calls no user code, so one scratch array is safe. */
  private readonly scratchTokens: string[] = [];
  private _entries = 0;
  private noDollarEntries = 0;
  private hits = 0;
  private misses = 0;

  constructor(options: SubjectTrieOptions = {}) {
    this.cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 1024));
    this.unique = options.unique === true;
  }

  /** Stored (filter, value) pairs. */
  get size(): number {
    return this._entries;
  }

  /**
   * Stores `value` under `filter` (validated: TRIB_SUBJECT_INVALID). Returns false when the pair was already
   * there with the same `$` rule (re-inserting with a different excludeDollar switches the rule).
   */
  insert(filter: string, value: T, options: TrieInsertOptions = {}): boolean {
    const tokens = tokenizeSubjectFilter(filter);
    let node = this.root;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      const path = i === 0 ? t : `${node.filter}.${t}`;
      if (t === FULL_WILDCARD) {
        node = node.full ??= new TrieNode<T>(path);
      } else if (t === SINGLE_WILDCARD) {
        node = node.star ??= new TrieNode<T>(path);
      } else {
        const map = (node.literal ??= new Map());
        let child = map.get(t);
        if (child === undefined) {
          child = new TrieNode<T>(path);
          map.set(t, child);
        }
        node = child;
      }
    }
    // The rule can only change the answer when the first token is a wildcard; elsewhere store it plainly.
    const excluded = options.excludeDollar === true && (tokens[0] === SINGLE_WILDCARD || tokens[0] === FULL_WILDCARD);
    const into = excluded ? (node.noDollar ??= new Set()) : (node.values ??= new Set());
    const other = excluded ? node.values : node.noDollar;
    if (into.has(value)) return false;
    into.add(value);
    if (other !== null && other.delete(value)) {
      if (!excluded) this.noDollarEntries--;
    } else {
      this._entries++;
    }
    if (excluded) this.noDollarEntries++;
    this.invalidate(filter, tokens);
    return true;
  }

  /** Removes the pair; returns false when it was not stored. Empty nodes are pruned. */
  remove(filter: string, value: T): boolean {
    const tokens = tokenizeSubjectFilter(filter);
    const path: TrieNode<T>[] = [this.root];
    let node: TrieNode<T> | null | undefined = this.root;
    for (let i = 0; i < tokens.length && node != null; i++) {
      const t = tokens[i];
      node = t === FULL_WILDCARD ? node.full : t === SINGLE_WILDCARD ? node.star : node.literal?.get(t);
      if (node != null) path.push(node);
    }
    if (node == null) return false;
    let removed = false;
    if (node.values !== null && node.values.delete(value)) removed = true;
    else if (node.noDollar !== null && node.noDollar.delete(value)) {
      removed = true;
      this.noDollarEntries--;
    }
    if (!removed) return false;
    this._entries--;
    // Prune from the leaf up so a trie that had a million short-lived inbox filters does not keep their nodes.
    for (let i = path.length - 1; i > 0; i--) {
      const child = path[i];
      if (!child.isEmpty()) break;
      const parent = path[i - 1];
      const t = tokens[i - 1];
      if (t === FULL_WILDCARD) parent.full = null;
      else if (t === SINGLE_WILDCARD) parent.star = null;
      else parent.literal!.delete(t);
    }
    this.invalidate(filter, tokens);
    return true;
  }

  /** True when the pair is stored. */
  has(filter: string, value: T): boolean {
    const tokens = tokenizeSubjectFilter(filter);
    let node: TrieNode<T> | null | undefined = this.root;
    for (let i = 0; i < tokens.length && node != null; i++) {
      const t = tokens[i];
      node = t === FULL_WILDCARD ? node.full : t === SINGLE_WILDCARD ? node.star : node.literal?.get(t);
    }
    return node != null && ((node.values?.has(value) ?? false) || (node.noDollar?.has(value) ?? false));
  }

  /**
   * The values whose filters match `subject` (a valid subject: no wildcards, else TRIB_SUBJECT_INVALID).
   * The array is shared; do not mutate it.
   */
  match(subject: string, options?: TrieMatchOptions): readonly T[] {
    const forced = options?.excludeDollar === true;
    const cache = forced ? this.cacheNoDollar : this.cache;
    const hit = cache.get(subject);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const tokens = this.scratchTokens;
    tokens.length = 0;
    const problem = subjectProblem(subject, false, tokens);
    if (problem !== null) throw new BrokerError('TRIB_SUBJECT_INVALID', problem);
    const out: T[] = [];
    const dollar = isDollarSubject(subject) && (forced || this.noDollarEntries > 0);
    const root = this.root;
    const first = tokens[0];
    // Level 0 by hand: only here does the `$` rule apply (the wildcard branches of the first token).
    if (root.full !== null) this.addValues(root.full, dollar, forced, out);
    if (root.star !== null) this.collect(root.star, tokens, 1, dollar, forced, out);
    const child = root.literal?.get(first);
    if (child !== undefined) this.collect(child, tokens, 1, false, forced, out);
    let result: readonly T[] = out.length === 0 ? EMPTY : out;
    if (this.unique && out.length > 1) {
      const set = new Set(out);
      if (set.size !== out.length) result = Array.from(set);
    }
    if (this.cacheSize > 0) {
      if (cache.size >= this.cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(subject, result);
    }
    return result;
  }

  /** True when any value matches `subject` (uses and fills the cache). */
  hasMatch(subject: string, options?: TrieMatchOptions): boolean {
    return this.match(subject, options).length > 0;
  }

  /** Every stored pair, as [filter, value]. */
  *entries(): IterableIterator<[string, T]> {
    const stack: TrieNode<T>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.values !== null) for (const v of node.values) yield [node.filter, v];
      if (node.noDollar !== null) for (const v of node.noDollar) yield [node.filter, v];
      if (node.full !== null) stack.push(node.full);
      if (node.star !== null) stack.push(node.star);
      if (node.literal !== null) for (const c of node.literal.values()) stack.push(c);
    }
  }

  stats(): SubjectTrieStats {
    return { entries: this._entries, cachedSubjects: this.cache.size + this.cacheNoDollar.size, cacheHits: this.hits, cacheMisses: this.misses };
  }

  /** Drops every cached result (entries stay). */
  clearCache(): void {
    this.cache.clear();
    this.cacheNoDollar.clear();
  }

  private collect(node: TrieNode<T>, tokens: readonly string[], i: number, blocked: boolean, forced: boolean, out: T[]): void {
    // Iterative along literal chains (the common case); recursion only for `*` branches, so depth ≤ tokens.
    for (;;) {
      if (i === tokens.length) {
        this.addValues(node, blocked, forced, out);
        return;
      }
      if (node.full !== null) this.addValues(node.full, blocked, forced, out);
      if (node.star !== null) this.collect(node.star, tokens, i + 1, blocked, forced, out);
      const next = node.literal?.get(tokens[i]);
      if (next === undefined) return;
      node = next;
      i++;
    }
  }

  private addValues(node: TrieNode<T>, blocked: boolean, forced: boolean, out: T[]): void {
    // blocked: a `$` subject reached this node through a first-token wildcard.
    if (node.values !== null && !(blocked && forced)) for (const v of node.values) out.push(v);
    if (node.noDollar !== null && !blocked) for (const v of node.noDollar) out.push(v);
  }

  /** Drops the cached subjects a change under `filter` could affect. */
  private invalidate(filter: string, tokens: readonly string[]): void {
    if (this.cache.size === 0 && this.cacheNoDollar.size === 0) return;
    let literal = true;
    for (const t of tokens) if (t === SINGLE_WILDCARD || t === FULL_WILDCARD) literal = false;
    if (literal) {
      this.cache.delete(filter);
      this.cacheNoDollar.delete(filter);
      return;
    }
    // Over-approximates (ignores the `$` rule): dropping a subject whose answer did not change only costs a miss.
    for (const cache of [this.cache, this.cacheNoDollar]) {
      for (const subject of cache.keys()) if (filterMatchesSubjectString(tokens, subject)) cache.delete(subject);
    }
  }
}

/** Filter tokens against a subject string without splitting it (the invalidation sweep runs over the whole cache). */
function filterMatchesSubjectString(filterTokens: readonly string[], subject: string): boolean {
  let pos = 0;
  const n = filterTokens.length;
  for (let i = 0; i < n; i++) {
    if (pos > subject.length) return false;
    const f = filterTokens[i];
    if (f === FULL_WILDCARD) return true;
    let end = subject.indexOf('.', pos);
    if (end < 0) end = subject.length;
    if (f !== SINGLE_WILDCARD && (end - pos !== f.length || !subject.startsWith(f, pos))) return false;
    pos = end + 1;
  }
  return pos > subject.length;
}
