/**
 * The Router's public surface: subjects and filters, the subject trie, the Router itself, the AMQP topic
 * matcher and the protocol-name translations. Protocol sessions import from here; tests may import the files.
 */
export {
  FULL_WILDCARD,
  MAX_SUBJECT_LENGTH,
  MAX_SUBJECT_TOKENS,
  SINGLE_WILDCARD,
  TOKEN_SEPARATOR,
  isDollarSubject,
  isLiteralFilter,
  isValidSubject,
  isValidSubjectFilter,
  startsWithWildcard,
  subjectMatchesFilter,
  subjectProblem,
  tokenizeSubject,
  tokenizeSubjectFilter,
  tokensMatch,
  validateSubject,
  validateSubjectFilter,
} from './subject.js';
export { SubjectTrie, type SubjectTrieOptions, type SubjectTrieStats, type TrieInsertOptions, type TrieMatchOptions } from './subject-trie.js';
export { AmqpTopicTrie, amqpTopicMatches, type AmqpTopicTrieOptions } from './amqp-topic-trie.js';
export {
  EMPTY_LEVEL_TOKEN,
  amqpPatternToSubjectFilters,
  amqpRoutingKeyToSubject,
  amqpWords,
  decodeToken,
  encodeToken,
  mqttFilterToSubjectFilters,
  mqttTopicMatches,
  mqttTopicToSubject,
  parseMqttSharedSubscription,
  subjectFilterToMqttFilter,
  subjectToAmqpRoutingKey,
  subjectToMqttTopic,
  type MqttSharedSubscription,
} from './translate.js';
export {
  Router,
  type CaptureTarget,
  type MessageHandler,
  type RouterLogger,
  type RouterOptions,
  type RouterStats,
  type SubscribeOptions,
  type Subscription,
} from './router.js';
