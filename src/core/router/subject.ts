/**
 * Subjects and subject filters: the one namespace the Router routes on (DESIGN.md "Core model").
 *
 * Grammar (NATS's, see specs/nats/FACTS.md):
 *   subject = token *("." token)          a publish target: no wildcards
 *   filter  = subject with any token `*`  (exactly one token) and optionally a last token `>` (one or more
 *             further tokens, so `a.>` does not match `a`)
 *   token   = 1*char, where char is anything but `.`, NUL and ASCII whitespace (space, \t, \n, \v, \f, \r)
 *
 * Invariants:
 * - `*` and `>` are wildcards only as whole tokens. A token that merely contains them (`a*`, `>b`) is refused
 *   in both subjects and filters rather than treated as a literal (nats-server accepts it as a literal):
 *   a partial wildcard is almost always a mistake, and refusing it keeps MQTT `a+`/AMQP `a*` confusion out of
 *   the namespace. The MQTT/AMQP translation (translate.ts) escapes such characters, so nothing is lost.
 * - At most MAX_SUBJECT_LENGTH UTF-16 code units and MAX_SUBJECT_TOKENS tokens: the trie recurses once per
 *   token and caches subjects as keys, so both bound memory and stack depth against hostile input.
 * - Validation and tokenising are one pass over the char codes with no regular expressions, because the
 *   Router validates every subject it has not seen before (a cache miss) on the publish path.
 *
 * Errors are BrokerError TRIB_SUBJECT_INVALID with a message that names the subject and the rule broken;
 * protocol sessions map it to NATS -ERR 'Invalid Subject', MQTT 0x90/0x8F, AMQP 406 (or drop, per protocol).
 */
import { BrokerError } from '../broker-error.js';

/** Longest subject or filter accepted, in UTF-16 code units (any MQTT topic fits once escaped, barring pathological ones). */
export const MAX_SUBJECT_LENGTH = 65_535;
/** Most tokens in a subject or filter; bounds the trie's recursion depth. */
export const MAX_SUBJECT_TOKENS = 1_024;

export const TOKEN_SEPARATOR = '.';
/** Matches exactly one token. */
export const SINGLE_WILDCARD = '*';
/** Matches one or more trailing tokens; only as the last token. */
export const FULL_WILDCARD = '>';

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;
const DOLLAR = 0x24;

function isForbiddenChar(c: number): boolean {
  // NUL and ASCII whitespace: the set nats-server's subject check refuses, plus \v and NUL (MQTT forbids U+0000).
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x00;
}

function quote(s: string): string {
  return s.length > 80 ? `'${s.slice(0, 77)}...'` : `'${s}'`;
}

/**
 * Why `s` is not a valid subject (`allowWildcards` false) or filter (true), or null when it is. When `tokens` is
 * given, the tokens are pushed to it as a side effect (only complete when the result is null).
 */
export function subjectProblem(s: string, allowWildcards: boolean, tokens?: string[]): string | null {
  const kind = allowWildcards ? 'subject filter' : 'subject';
  if (typeof s !== 'string' || s.length === 0) return `${kind} must be a non-empty string`;
  if (s.length > MAX_SUBJECT_LENGTH) return `${kind} of ${s.length} characters exceeds the maximum of ${MAX_SUBJECT_LENGTH}`;
  let start = 0;
  let count = 0;
  let sawFull = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? DOT : s.charCodeAt(i);
    if (c !== DOT) {
      if (isForbiddenChar(c)) return `${kind} ${quote(s)} contains whitespace or NUL at position ${i}`;
      continue;
    }
    const len = i - start;
    if (len === 0) return `${kind} ${quote(s)} has an empty token at position ${start}`;
    if (sawFull) return `${kind} ${quote(s)} has '>' before its last token`;
    if (++count > MAX_SUBJECT_TOKENS) return `${kind} ${quote(s)} has more than ${MAX_SUBJECT_TOKENS} tokens`;
    if (len === 1) {
      const t = s.charCodeAt(start);
      if (t === STAR || t === GT) {
        if (!allowWildcards) return `subject ${quote(s)} contains the wildcard '${t === STAR ? '*' : '>'}' (wildcards are only for filters)`;
        if (t === GT) sawFull = true;
      }
    } else {
      for (let j = start; j < i; j++) {
        const t = s.charCodeAt(j);
        if (t === STAR || t === GT) return `${kind} ${quote(s)} uses '${t === STAR ? '*' : '>'}' inside a token at position ${j} (wildcards must be whole tokens)`;
      }
    }
    if (tokens !== undefined) tokens.push(s.substring(start, i));
    start = i + 1;
  }
  return null;
}

export function isValidSubject(s: string): boolean {
  return subjectProblem(s, false) === null;
}

export function isValidSubjectFilter(s: string): boolean {
  return subjectProblem(s, true) === null;
}

/** Throws TRIB_SUBJECT_INVALID unless `s` is a valid subject (no wildcards). */
export function validateSubject(s: string): void {
  const problem = subjectProblem(s, false);
  if (problem !== null) throw new BrokerError('TRIB_SUBJECT_INVALID', problem);
}

/** Throws TRIB_SUBJECT_INVALID unless `s` is a valid subject filter. */
export function validateSubjectFilter(s: string): void {
  const problem = subjectProblem(s, true);
  if (problem !== null) throw new BrokerError('TRIB_SUBJECT_INVALID', problem);
}

/** The tokens of a valid subject; throws TRIB_SUBJECT_INVALID otherwise (including for wildcards). */
export function tokenizeSubject(s: string): string[] {
  const tokens: string[] = [];
  const problem = subjectProblem(s, false, tokens);
  if (problem !== null) throw new BrokerError('TRIB_SUBJECT_INVALID', problem);
  return tokens;
}

/** The tokens of a valid filter; throws TRIB_SUBJECT_INVALID otherwise. */
export function tokenizeSubjectFilter(s: string): string[] {
  const tokens: string[] = [];
  const problem = subjectProblem(s, true, tokens);
  if (problem !== null) throw new BrokerError('TRIB_SUBJECT_INVALID', problem);
  return tokens;
}

/** True when the (valid) filter has no wildcard token, i.e. it matches only the subject equal to it. */
export function isLiteralFilter(filter: string): boolean {
  if (filter === '*' || filter === '>') return false;
  // Wildcards are whole tokens, so they sit at the start, at the end, or between dots.
  if (filter.startsWith('*.') || filter.endsWith('.*') || filter.endsWith('.>')) return false;
  return !filter.includes('.*.');
}

/** True when the first token of a subject starts with '$' (`$SYS.x`): the MQTT [MQTT-4.7.2-1] rule's subjects. */
export function isDollarSubject(subject: string): boolean {
  return subject.charCodeAt(0) === DOLLAR;
}

/** True when the first token of a (valid) filter is a wildcard: the filters [MQTT-4.7.2-1] keeps from `$` subjects. */
export function startsWithWildcard(filter: string): boolean {
  const c = filter.charCodeAt(0);
  return (c === STAR || c === GT) && (filter.length === 1 || filter.charCodeAt(1) === DOT);
}

/**
 * Does `filter` match `subject`? Both given as token arrays (already valid). The single-pair matcher: the
 * trie is the fast path for many filters; this is for one-off checks (a cursor's filter subject) and tests.
 */
export function tokensMatch(filterTokens: readonly string[], subjectTokens: readonly string[]): boolean {
  const n = filterTokens.length;
  for (let i = 0; i < n; i++) {
    const f = filterTokens[i];
    if (f === FULL_WILDCARD) return subjectTokens.length > i;
    if (i >= subjectTokens.length) return false;
    if (f !== SINGLE_WILDCARD && f !== subjectTokens[i]) return false;
  }
  return subjectTokens.length === n;
}

/**
 * Does `filter` match `subject`? Validates both (TRIB_SUBJECT_INVALID). With `excludeDollar`, a filter whose
 * first token is a wildcard does not match a subject whose first token starts with '$' ([MQTT-4.7.2-1]).
 */
export function subjectMatchesFilter(filter: string, subject: string, options: { excludeDollar?: boolean } = {}): boolean {
  const f = tokenizeSubjectFilter(filter);
  const s = tokenizeSubject(subject);
  if (options.excludeDollar === true && isDollarSubject(subject) && (f[0] === SINGLE_WILDCARD || f[0] === FULL_WILDCARD)) return false;
  return tokensMatch(f, s);
}
