/**
 * Translation between the protocols' names and the Router's subjects (DESIGN.md "Interop naming"):
 * MQTT topic `a/b` ⇔ subject `a.b` ⇔ AMQP routing key `a.b`; NATS subjects are native. Applied once at the
 * protocol edge, so the core only ever sees subjects.
 *
 * Token escaping (one scheme for MQTT levels and AMQP words, so `a//b` in MQTT and `a..b` in AMQP are the
 * same subject `a.%.b`). A level or word becomes a token by:
 *   - the empty level/word                          -> `%`  (a token may not be empty)
 *   - `.` `*` `>` space \t \n \v \f \r NUL          -> `%2E` `%2A` `%3E` `%20` `%09` `%0A` `%0B` `%0C` `%0D` `%00`
 *   - `%` when the token would otherwise be misread -> `%25` (the level `%` itself, or `%` followed by one of
 *     the codes above, uppercase, or by `25`)
 *   - every other character, `%` included          -> itself
 * Decoding reverses it: the token `%` is the empty level; each of the codes above becomes its character; any
 * other `%` is literal. So:
 *   - topic -> subject -> topic is the identity for every valid MQTT topic (and key -> subject -> key for
 *     every AMQP routing key with at least one word), and two different topics never share a subject;
 *   - subject -> topic -> subject is the identity for every subject in the canonical form above, which is every
 *     subject with no `%` followed by a code (NATS users rarely write `%2E`; if they do it reads as escaped).
 * The common case costs one `replaceAll('/', '.')`: nothing is escaped unless it has to be.
 *
 * Names with no counterpart (the translators return null; the session drops the delivery and may log it):
 *   - a subject whose decoded token contains `/`, `+`, `#` or NUL has no MQTT topic;
 *   - a subject whose decoded token contains `.` has no AMQP routing key; the routing key `` (zero words) has no
 *     subject.
 *
 * Wildcards:
 *   - MQTT `+` -> `*`; `#` -> `>`, and because `a/#` also matches `a` ([MQTT-4.7.1-2]) a trailing `#` gives two
 *     filters: `a/#` -> [`a`, `a.>`] (disjoint, so a message never matches both). Subscribe both, with the
 *     Router's excludeDollar option for [MQTT-4.7.2-1].
 *   - AMQP topic patterns (`*` one word, `#` zero or more words) cannot always be subject filters (`#.b` would
 *     need infinitely many); topic exchanges therefore match with AmqpTopicTrie (amqp-topic-trie.ts), and
 *     amqpPatternToSubjectFilters() gives the equivalent filters when they exist (null otherwise) for bridging
 *     an AMQP binding onto the Router.
 */
import { BrokerError } from '../broker-error.js';
import { FULL_WILDCARD, MAX_SUBJECT_LENGTH, MAX_SUBJECT_TOKENS, SINGLE_WILDCARD, subjectProblem } from './subject.js';

/** Characters escaped in a token, with their codes. `%` is escaped only where ambiguous (see header). */
const ESCAPE_CODES: ReadonlyMap<number, string> = new Map([
  [0x25, '%25'],
  [0x2e, '%2E'],
  [0x2a, '%2A'],
  [0x3e, '%3E'],
  [0x20, '%20'],
  [0x09, '%09'],
  [0x0a, '%0A'],
  [0x0b, '%0B'],
  [0x0c, '%0C'],
  [0x0d, '%0D'],
  [0x00, '%00'],
]);
const DECODES: ReadonlyMap<string, string> = new Map([...ESCAPE_CODES].map(([c, code]) => [code.slice(1), String.fromCharCode(c)]));

const PERCENT = 0x25;
/** The token of the empty level / word. */
export const EMPTY_LEVEL_TOKEN = '%';

function needsEscape(c: number): boolean {
  return c === PERCENT || c === 0x2e || c === 0x2a || c === 0x3e || c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x00;
}

/** Is `s[i]` a `%` that starts one of the codes? */
function startsCode(s: string, i: number): boolean {
  return i + 2 < s.length && DECODES.has(s.substring(i + 1, i + 3));
}

/** An MQTT level or AMQP word as a subject token (see the header for the scheme). */
export function encodeToken(level: string): string {
  if (level.length === 0) return EMPTY_LEVEL_TOKEN;
  if (level === EMPTY_LEVEL_TOKEN) return '%25';
  let i = 0;
  while (i < level.length && !needsEscape(level.charCodeAt(i))) i++;
  if (i === level.length) return level;
  let out = level.substring(0, i);
  for (; i < level.length; i++) {
    const c = level.charCodeAt(i);
    if (c === PERCENT) out += startsCode(level, i) ? '%25' : '%';
    else if (needsEscape(c)) out += ESCAPE_CODES.get(c)!;
    else out += level[i];
  }
  return out;
}

/** A subject token back to its MQTT level or AMQP word. */
export function decodeToken(token: string): string {
  if (token === EMPTY_LEVEL_TOKEN) return '';
  let i = token.indexOf('%');
  if (i < 0) return token;
  let out = token.substring(0, i);
  while (i < token.length) {
    if (token.charCodeAt(i) === PERCENT && startsCode(token, i)) {
      out += DECODES.get(token.substring(i + 1, i + 3))!;
      i += 3;
    } else {
      out += token[i++];
    }
  }
  return out;
}

function invalid(message: string): BrokerError {
  return new BrokerError('TRIB_SUBJECT_INVALID', message);
}

function checkSubjectBounds(subject: string, tokens: number, what: string): string {
  if (subject.length > MAX_SUBJECT_LENGTH) throw invalid(`${what} is ${subject.length} characters as a subject, over the maximum of ${MAX_SUBJECT_LENGTH}`);
  if (tokens > MAX_SUBJECT_TOKENS) throw invalid(`${what} has ${tokens} levels, over the maximum of ${MAX_SUBJECT_TOKENS}`);
  return subject;
}

/** Characters that make the fast path (`/` -> `.`) wrong for a topic: anything escaped, plus empty levels. */
function topicNeedsEscaping(topic: string): boolean {
  if (topic.charCodeAt(0) === 0x2f || topic.charCodeAt(topic.length - 1) === 0x2f || topic.includes('//')) return true;
  for (let i = 0; i < topic.length; i++) if (needsEscape(topic.charCodeAt(i))) return true;
  return false;
}

// ---- MQTT ----

/**
 * The subject of an MQTT topic name (PUBLISH, Will Topic). Throws TRIB_SUBJECT_INVALID when the topic is not a
 * valid topic name: empty, contains `+`, `#` or U+0000 ([MQTT-4.7.3-1], [MQTT-3.3.2-2], [MQTT-4.7.3-2]), or is
 * too long as a subject.
 */
export function mqttTopicToSubject(topic: string): string {
  if (typeof topic !== 'string' || topic.length === 0) throw invalid('MQTT topic name must be at least one character');
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) throw invalid(`MQTT topic name '${topic}' contains the wildcard '${topic[i]}'`);
    if (c === 0) throw invalid('MQTT topic name contains U+0000');
  }
  if (!topicNeedsEscaping(topic)) {
    const subject = topic.replaceAll('/', '.');
    // Only a pathological topic is long; counting levels is skipped unless it could exceed the bound.
    return subject.length > MAX_SUBJECT_TOKENS * 2 || subject.length > MAX_SUBJECT_LENGTH ? checkSubjectBounds(subject, countLevels(topic), `MQTT topic`) : subject;
  }
  const levels = topic.split('/');
  return checkSubjectBounds(levels.map(encodeToken).join('.'), levels.length, 'MQTT topic');
}

function countLevels(topic: string): number {
  let n = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) n++;
  return n;
}

/**
 * The MQTT topic name of a subject, or null when it has none (a decoded token contains `/`, `+`, `#` or NUL —
 * a NATS subject `a/b.c` or `a.+`). The subject is assumed valid (it came through the Router).
 */
export function subjectToMqttTopic(subject: string): string | null {
  if (!subject.includes('%')) {
    for (let i = 0; i < subject.length; i++) {
      const c = subject.charCodeAt(i);
      if (c === 0x2f || c === 0x2b || c === 0x23 || c === 0) return null;
    }
    return subject.replaceAll('.', '/');
  }
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const level = decodeToken(tokens[i]);
    if (/[/+#\0]/.test(level)) return null;
    tokens[i] = level;
  }
  return tokens.join('/');
}

/** Why an MQTT topic filter is invalid, or null. */
function mqttFilterProblem(filter: string, levels: string[]): string | null {
  if (filter.length === 0) return 'MQTT topic filter must be at least one character';
  if (filter.includes('\0')) return 'MQTT topic filter contains U+0000';
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === '#') {
      // [MQTT-4.7.1-2] multi-level wildcard only as the last level.
      if (i !== levels.length - 1) return `MQTT topic filter '${filter}' has '#' before its last level`;
    } else if (l !== '+' && (l.includes('+') || l.includes('#'))) {
      // [MQTT-4.7.1-3] wildcards occupy a whole level.
      return `MQTT topic filter '${filter}' uses a wildcard inside a level`;
    }
  }
  return null;
}

/**
 * The subject filters equivalent to an MQTT topic filter (SUBSCRIBE/UNSUBSCRIBE; strip `$share/<name>/` first
 * with parseMqttSharedSubscription). One filter, or two when it ends in `#` after other levels (`a/#` ->
 * [`a`, `a.>`]). Throws TRIB_SUBJECT_INVALID for an invalid filter.
 */
export function mqttFilterToSubjectFilters(filter: string): string[] {
  if (typeof filter !== 'string') throw invalid('MQTT topic filter must be a string');
  const levels = filter.split('/');
  const problem = mqttFilterProblem(filter, levels);
  if (problem !== null) throw invalid(problem);
  const tokens = levels.map((l) => (l === '+' ? SINGLE_WILDCARD : l === '#' ? FULL_WILDCARD : encodeToken(l)));
  const joined = checkSubjectBounds(tokens.join('.'), tokens.length, 'MQTT topic filter');
  if (levels[levels.length - 1] !== '#' || levels.length === 1) return [joined];
  const parent = tokens.slice(0, -1);
  // `/#`: the parent would be the single empty level, i.e. the topic '' which is not a valid topic name.
  if (parent.length === 1 && parent[0] === EMPTY_LEVEL_TOKEN) return [joined];
  return [parent.join('.'), joined];
}

/** The MQTT filter of a subject filter (inverse of mqttFilterToSubjectFilters for one filter), or null. */
export function subjectFilterToMqttFilter(filter: string): string | null {
  const tokens = filter.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === SINGLE_WILDCARD) tokens[i] = '+';
    else if (t === FULL_WILDCARD) tokens[i] = '#';
    else {
      const level = decodeToken(t);
      if (/[/+#\0]/.test(level)) return null;
      tokens[i] = level;
    }
  }
  return tokens.join('/');
}

export interface MqttSharedSubscription {
  /** The share name: subscriptions with the same share name and filter share the messages. */
  shareName: string;
  /** The topic filter after `$share/<name>/`. */
  filter: string;
}

/**
 * Splits an MQTT 5 shared subscription `$share/{ShareName}/{filter}` (MQTT 5 §4.8.2); null when `filter` is not
 * one. Throws TRIB_SUBJECT_INVALID when it starts with `$share/` but is malformed (empty share name, `+`/`#`
 * in it, or no filter). Give the Router `queueGroup` = `$share/<ShareName>/<filter>` so that, as the spec says,
 * a group is one share name and one filter.
 */
export function parseMqttSharedSubscription(filter: string): MqttSharedSubscription | null {
  if (!filter.startsWith('$share/')) return null;
  const rest = filter.substring('$share/'.length);
  const slash = rest.indexOf('/');
  const shareName = slash < 0 ? rest : rest.substring(0, slash);
  if (shareName.length === 0 || /[+#]/.test(shareName)) throw invalid(`MQTT shared subscription '${filter}' has an invalid share name`);
  if (slash < 0 || slash === rest.length - 1) throw invalid(`MQTT shared subscription '${filter}' has no topic filter`);
  return { shareName, filter: rest.substring(slash + 1) };
}

/**
 * Does an MQTT topic filter match a topic name, by MQTT's own rules (including `a/#` matching `a` and the `$`
 * rule)? For MQTT-side work that never reaches the Router, such as retained messages; assumes valid inputs.
 */
export function mqttTopicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'.
  if ((f[0] === '+' || f[0] === '#') && topic.startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// ---- AMQP ----

/**
 * The words of an AMQP routing key or binding pattern, split as RabbitMQ does: `` has zero words, `a.` is
 * [`a`, ``], `.` is [``, ``].
 */
export function amqpWords(key: string): string[] {
  return key.length === 0 ? [] : key.split('.');
}

/**
 * The subject of an AMQP routing key (publishing to amq.topic and friends bridges onto the Router with it), or
 * null for the empty key (zero words). Words are escaped like MQTT levels, so `a..b` is `a.%.b`. Throws
 * TRIB_SUBJECT_INVALID only when the subject would exceed the bounds (not possible for a 255-byte shortstr).
 */
export function amqpRoutingKeyToSubject(routingKey: string): string | null {
  if (routingKey.length === 0) return null;
  // Valid-subject keys are the common case and map to themselves, unless they contain an escape character.
  if (!routingKey.includes('%') && subjectProblem(routingKey, false) === null) return routingKey;
  const words = amqpWords(routingKey);
  return checkSubjectBounds(words.map(encodeToken).join('.'), words.length, 'AMQP routing key');
}

/** The AMQP routing key of a subject, or null when a decoded token contains `.` (no word can). */
export function subjectToAmqpRoutingKey(subject: string): string | null {
  if (!subject.includes('%')) return subject;
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const word = decodeToken(tokens[i]);
    if (word.includes('.')) return null;
    tokens[i] = word;
  }
  return tokens.join('.');
}

/**
 * The subject filters matching exactly the subjects whose routing keys an AMQP topic pattern matches, or null
 * when no finite set exists (a `#` followed by a literal word, like `#.b` or `a.#.c`). Consecutive `#` collapse;
 * a trailing run of `#`/`*` with k stars means "at least k more words": `a.#` -> [`a`, `a.>`], `a.*.#` and
 * `a.#.*` -> [`a.>`], `#` -> [`>`]. The empty pattern matches only the empty key, which has no subject: [].
 */
export function amqpPatternToSubjectFilters(pattern: string): string[] | null {
  const words = amqpWords(pattern);
  if (words.length === 0) return [];
  const firstHash = words.indexOf('#');
  if (firstHash < 0) return [words.map((w) => (w === '*' ? SINGLE_WILDCARD : encodeToken(w))).join('.')];
  // The wildcard tail: the `*`s just before the first `#` and everything after it, which must be `*` or `#`.
  let tail = firstHash;
  while (tail > 0 && words[tail - 1] === '*') tail--;
  let stars = 0;
  for (let i = tail; i < words.length; i++) {
    if (words[i] === '*') stars++;
    else if (words[i] !== '#') return null;
  }
  const prefix = words.slice(0, tail).map((w) => (w === '*' ? SINGLE_WILDCARD : encodeToken(w)));
  if (stars > 0) return [[...prefix, ...new Array<string>(stars - 1).fill(SINGLE_WILDCARD), FULL_WILDCARD].join('.')];
  if (prefix.length === 0) return [FULL_WILDCARD];
  return [prefix.join('.'), [...prefix, FULL_WILDCARD].join('.')];
}
