/**
 * The option table: every setting of `tributary serve`, in one place. Each entry carries its zod schema, its
 * default, its help text, its CLI flag, its environment variable (`TRIBUTARY_*`) and its key in the YAML file,
 * so that `--help`, docs/configuration.md (scripts/generate-config-docs.mjs) and the parser cannot disagree.
 *
 * Precedence is flag > environment > file > default, decided per key. Values from flags and the environment
 * arrive as text and are converted by the option's kind before its schema checks them; values from the file
 * keep their YAML type (a port written as "9092" in quotes is refused: the file is typed). An unknown file key,
 * an unknown `TRIBUTARY_*` variable or a bad value anywhere throws ConfigError naming the key and where it came
 * from, and the server does not start — a typo must never silently fall back to a default.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_LOG_CONFIG, type FsyncPolicy, type LogConfig } from '../storage/log.js';

/**
 * How text from a flag or variable becomes a value; 'path' values are made absolute against the cwd; 'boolean'
 * takes true/false (also on/off, yes/no, 1/0).
 */
type OptionKind = 'string' | 'path' | 'integer' | 'enum' | 'boolean';

/** What a computed default may look at: keys earlier in the table, already resolved, and the terminal. */
export interface DefaultContext {
  readonly values: Readonly<Record<string, unknown>>;
  readonly stdoutIsTTY: boolean;
}

export interface OptionSpec<T> {
  kind: OptionKind;
  schema: z.ZodType<T>;
  /** A value, or a function of earlier keys (advertisedHost follows host). */
  // NoInfer: T comes from the schema, so an enum's default 'always' does not widen the type to string.
  default: NoInfer<T> | ((ctx: DefaultContext) => NoInfer<T>);
  /** The default as the docs and --help show it (a computed default needs words). */
  defaultText: string;
  help: string;
  /** Long flag with its argument, as commander takes it: `--data-dir <path>`. */
  flag: string;
  env: string;
  /** Dotted path in the YAML file (`kafka.port` is `kafka: { port: … }`); null when not settable there. */
  file: string | null;
  /** Allowed values, for enums (shown in help). */
  choices?: readonly string[];
}

function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

const port = z.number().int().min(0).max(65535);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const FSYNC_POLICIES = ['always', 'interval', 'never'] as const satisfies readonly FsyncPolicy[];
const LOG_FORMATS = ['pretty', 'json'] as const;

function portOption(protocol: string, key: string, fallback: number): OptionSpec<number> {
  return option({
    kind: 'integer',
    schema: port,
    default: fallback,
    defaultText: String(fallback),
    help: `Port of the ${protocol} listener; 0 picks a free port (the start log line shows which).`,
    flag: `--${key}-port <port>`,
    env: `TRIBUTARY_${key.toUpperCase()}_PORT`,
    file: `${key}.port`,
  });
}

/** Wildcard listen addresses cannot be dialled, so they are never advertised to clients. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

export const OPTIONS = {
  config: option({
    kind: 'path',
    schema: z.string().min(1),
    default: 'tributary.yaml',
    defaultText: 'tributary.yaml',
    help: 'YAML configuration file. The default file may be absent; a file named by flag or variable must exist.',
    flag: '--config <file>',
    env: 'TRIBUTARY_CONFIG',
    file: null,
  }),
  dataDir: option({
    kind: 'path',
    schema: z.string().min(1),
    default: './data',
    defaultText: './data',
    help: 'Directory holding all durable state (streams, metadata). Relative paths are resolved against the working directory.',
    flag: '--data-dir <path>',
    env: 'TRIBUTARY_DATA_DIR',
    file: 'dataDir',
  }),
  host: option({
    kind: 'string',
    schema: z.string().min(1),
    default: '127.0.0.1',
    defaultText: '127.0.0.1',
    help: 'Address every listener binds to. Use 0.0.0.0 or :: to accept connections from other machines.',
    flag: '--host <address>',
    env: 'TRIBUTARY_HOST',
    file: 'host',
  }),
  advertisedHost: option({
    kind: 'string',
    schema: z.string().min(1),
    default: (ctx: DefaultContext) => {
      const host = String(ctx.values.host);
      return WILDCARD_HOSTS.has(host) ? '127.0.0.1' : host;
    },
    defaultText: 'host, or 127.0.0.1 when host is 0.0.0.0 or ::',
    help: 'Host name clients are told to connect to (Kafka metadata, redirects).',
    flag: '--advertised-host <host>',
    env: 'TRIBUTARY_ADVERTISED_HOST',
    file: 'advertisedHost',
  }),
  kafkaPort: portOption('Kafka', 'kafka', 9092),
  amqpPort: portOption('AMQP 0-9-1', 'amqp', 5672),
  amqpVhosts: option({
    kind: 'string',
    schema: z.string().regex(/^[^,\u0000]*(,[^,\u0000]+)*$/, 'expected a comma-separated list of virtual host names'),
    default: '',
    defaultText: "'' (only /)",
    help: "AMQP virtual hosts besides '/', comma-separated, added at every start; each is a tenant with its own exchanges and queues. More can be created at run time (PUT /api/vhosts/:name, tributary vhost create); connection.open of any other vhost is 530 NOT_ALLOWED.",
    flag: '--amqp-vhosts <list>',
    env: 'TRIBUTARY_AMQP_VHOSTS',
    file: 'amqp.vhosts',
  }),
  natsPort: portOption('NATS', 'nats', 4222),
  mqttPort: portOption('MQTT', 'mqtt', 1883),
  httpPort: portOption('HTTP (health, metrics, API)', 'http', 8080),
  httpAuth: option({
    kind: 'enum',
    schema: z.enum(['off', 'on']),
    default: 'off',
    defaultText: 'off',
    help: 'HTTP API authentication: on = every /api request needs HTTP basic auth of a user in the user store (401 otherwise); off = requests act as the anonymous principal of their address. /healthz, /readyz and /metrics stay open.',
    flag: '--http-auth <mode>',
    env: 'TRIBUTARY_HTTP_AUTH',
    file: 'http.auth',
    choices: ['off', 'on'],
  }),
  kafkaAutoCreate: option({
    kind: 'boolean',
    schema: z.boolean(),
    default: true,
    defaultText: 'true',
    help: 'Kafka auto.create.topics.enable: create an unknown topic when a client asks for it in Metadata (allowAutoTopicCreation) or produces to it; false answers UNKNOWN_TOPIC_OR_PARTITION.',
    flag: '--kafka-auto-create <bool>',
    env: 'TRIBUTARY_KAFKA_AUTO_CREATE',
    file: 'kafka.autoCreate',
  }),
  kafkaDefaultPartitions: option({
    kind: 'integer',
    schema: z.number().int().min(1).max(10_000),
    default: 1,
    defaultText: '1',
    help: 'Kafka num.partitions: partitions of an auto-created topic, and of CreateTopics asking for -1.',
    flag: '--kafka-default-partitions <n>',
    env: 'TRIBUTARY_KAFKA_DEFAULT_PARTITIONS',
    file: 'kafka.defaultPartitions',
  }),
  kafkaMaxRequestBytes: option({
    kind: 'integer',
    // Kafka's socket.request.max.bytes is an int32, and a frame's size prefix is one.
    schema: z.number().int().min(1024).max(2 ** 31 - 1),
    default: 100 * 1024 * 1024,
    defaultText: `${100 * 1024 * 1024} (100 MiB)`,
    help: 'Kafka socket.request.max.bytes: the largest request frame; a larger one closes the connection.',
    flag: '--kafka-max-request-bytes <bytes>',
    env: 'TRIBUTARY_KAFKA_MAX_REQUEST_BYTES',
    file: 'kafka.maxRequestBytes',
  }),
  kafkaTransactionalIdExpirationMs: option({
    kind: 'integer',
    // Kafka's transactional.id.expiration.ms is an int (at least 1).
    schema: z.number().int().min(1).max(2 ** 31 - 1),
    default: 604_800_000,
    defaultText: '604800000 (7 days)',
    help: 'Kafka transactional.id.expiration.ms: a transactional id with no transaction in flight is forgotten (also in __metadata) this long after its last update; its next InitProducerId gets a new producer id.',
    flag: '--kafka-transactional-id-expiration-ms <ms>',
    env: 'TRIBUTARY_KAFKA_TRANSACTIONAL_ID_EXPIRATION_MS',
    file: 'kafka.transactionalIdExpirationMs',
  }),
  kafkaTransactionMaxTimeoutMs: option({
    kind: 'integer',
    // Kafka's transaction.max.timeout.ms is an int (at least 1).
    schema: z.number().int().min(1).max(2 ** 31 - 1),
    default: 900_000,
    defaultText: '900000 (15 minutes)',
    help: 'Kafka transaction.max.timeout.ms: the longest transaction timeout a producer may ask for; InitProducerId with a longer transactionTimeoutMs gets INVALID_TRANSACTION_TIMEOUT.',
    flag: '--kafka-transaction-max-timeout-ms <ms>',
    env: 'TRIBUTARY_KAFKA_TRANSACTION_MAX_TIMEOUT_MS',
    file: 'kafka.transactionMaxTimeoutMs',
  }),
  kafkaTransactionAbortTimedOutTransactionCleanupIntervalMs: option({
    kind: 'integer',
    // A timer interval: Node's setInterval takes at most 2^31 - 1 ms.
    schema: z.number().int().min(1).max(2 ** 31 - 1),
    default: 1000,
    defaultText: "1000 (Kafka's is 10000)",
    help: 'Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms: how often transactions open longer than their timeout are looked for and aborted (fencing their producer); the same check forgets expired transactional ids.',
    flag: '--kafka-transaction-abort-timed-out-transaction-cleanup-interval-ms <ms>',
    env: 'TRIBUTARY_KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS',
    file: 'kafka.transactionAbortTimedOutTransactionCleanupIntervalMs',
  }),
  kafkaTxnIndexSnapshotIntervalMs: option({
    kind: 'integer',
    schema: z.number().int().min(0).max(2 ** 31 - 1),
    default: 60_000,
    defaultText: '60000 (1 minute)',
    help: "How often each partition's transaction index snapshot (txn-index.snapshot) is written when its log grew, so a restart rebuilds the index from the log written since; 0 writes it only when the broker closes the stream.",
    flag: '--kafka-txn-index-snapshot-interval-ms <ms>',
    env: 'TRIBUTARY_KAFKA_TXN_INDEX_SNAPSHOT_INTERVAL_MS',
    file: 'kafka.txnIndexSnapshotIntervalMs',
  }),
  kafkaProducerIdExpirationMs: option({
    kind: 'integer',
    schema: z.number().int().min(1).max(2 ** 31 - 1),
    default: 86_400_000,
    defaultText: '86400000 (1 day)',
    help: "Kafka producer.id.expiration.ms: an idempotent producer's sequence state on a partition is dropped this long after its last write there; it must then start again at sequence 0.",
    flag: '--kafka-producer-id-expiration-ms <ms>',
    env: 'TRIBUTARY_KAFKA_PRODUCER_ID_EXPIRATION_MS',
    file: 'kafka.producerIdExpirationMs',
  }),
  natsMaxPayload: option({
    kind: 'integer',
    // nats-server caps max_payload at 64 MiB (MAX_PAYLOAD_MAX_SIZE).
    schema: z.number().int().min(1).max(64 * 1024 * 1024),
    default: 1024 * 1024,
    defaultText: `${1024 * 1024} (1 MiB)`,
    help: 'NATS max_payload: the largest PUB/HPUB (headers + payload), advertised in INFO; a larger one gets -ERR and a close.',
    flag: '--nats-max-payload <bytes>',
    env: 'TRIBUTARY_NATS_MAX_PAYLOAD',
    file: 'nats.maxPayload',
  }),
  natsMaxPendingBytes: option({
    kind: 'integer',
    schema: z.number().int().min(1024),
    default: 64 * 1024 * 1024,
    defaultText: `${64 * 1024 * 1024} (64 MiB)`,
    help: "NATS max_pending: bytes a connection may have waiting to be written; more gets -ERR 'Slow Consumer' and a close.",
    flag: '--nats-max-pending-bytes <bytes>',
    env: 'TRIBUTARY_NATS_MAX_PENDING_BYTES',
    file: 'nats.maxPendingBytes',
  }),
  natsPingIntervalMs: option({
    kind: 'integer',
    schema: z.number().int().min(0),
    default: 120_000,
    defaultText: '120000 (2 minutes)',
    help: 'NATS ping_interval: the server PINGs each client this often (ms); 0 disables server PINGs.',
    flag: '--nats-ping-interval-ms <ms>',
    env: 'TRIBUTARY_NATS_PING_INTERVAL_MS',
    file: 'nats.pingIntervalMs',
  }),
  natsMaxPingsOut: option({
    kind: 'integer',
    schema: z.number().int().min(1),
    default: 2,
    defaultText: '2',
    help: "NATS ping_max: unanswered server PINGs tolerated; one more gets -ERR 'Stale Connection' and a close.",
    flag: '--nats-max-pings-out <n>',
    env: 'TRIBUTARY_NATS_MAX_PINGS_OUT',
    file: 'nats.maxPingsOut',
  }),
  natsMaxSubscriptions: option({
    kind: 'integer',
    schema: z.number().int().min(0),
    default: 0,
    defaultText: '0 (unlimited)',
    help: "NATS max_subscriptions per connection; one more SUB gets -ERR 'Maximum Subscriptions Exceeded'. 0 = unlimited.",
    flag: '--nats-max-subscriptions <n>',
    env: 'TRIBUTARY_NATS_MAX_SUBSCRIPTIONS',
    file: 'nats.maxSubscriptions',
  }),
  natsAuthRequired: option({
    kind: 'boolean',
    schema: z.boolean(),
    default: false,
    defaultText: 'false',
    help: 'NATS: require a login (user/pass from the user store, a token or an nkey) in CONNECT; implied when natsTokens or natsNkeys is set.',
    flag: '--nats-auth-required <bool>',
    env: 'TRIBUTARY_NATS_AUTH_REQUIRED',
    file: 'nats.authRequired',
  }),
  natsTokens: option({
    kind: 'string',
    schema: z.string().regex(/^$|^[^:,]+:[^,]+(,[^:,]+:[^,]+)*$/, 'expected principal:token[,principal:token...]'),
    default: '',
    defaultText: '(none)',
    help: 'NATS token auth (CONNECT auth_token), as principal:token pairs separated by commas; a matching token logs in as that principal.',
    flag: '--nats-tokens <list>',
    env: 'TRIBUTARY_NATS_TOKENS',
    file: 'nats.tokens',
  }),
  natsNkeys: option({
    kind: 'string',
    // A user nkey's public key: 'U' and 55 more base32 characters.
    schema: z.string().regex(/^$|^[^:,]+:U[A-Z2-7]{55}(,[^:,]+:U[A-Z2-7]{55})*$/, 'expected principal:UPUBLICNKEY[,principal:U...]'),
    default: '',
    defaultText: '(none)',
    help: "NATS nkey auth, as principal:public-user-nkey pairs separated by commas: INFO carries a nonce, and a client that signs it with the nkey's seed logs in as that principal.",
    flag: '--nats-nkeys <list>',
    env: 'TRIBUTARY_NATS_NKEYS',
    file: 'nats.nkeys',
  }),
  mqttMaxKeepalive: option({
    kind: 'integer',
    // Keep Alive is a two-byte number of seconds (MQTT 3.1.2.10).
    schema: z.number().int().min(0).max(65_535),
    default: 0,
    defaultText: '0 (the client decides)',
    help: "MQTT max_keepalive (s): a v5 client asking for a longer Keep Alive (or none) is given this one in CONNACK Server Keep Alive; a 3.1.1 client asking for more is refused (return code 2). 0 accepts the client's value.",
    flag: '--mqtt-max-keepalive <seconds>',
    env: 'TRIBUTARY_MQTT_MAX_KEEPALIVE',
    file: 'mqtt.maxKeepalive',
  }),
  fsync: option({
    kind: 'enum',
    schema: z.enum(FSYNC_POLICIES),
    default: 'always',
    defaultText: 'always',
    help: 'Default durability for streams: always = fsync before every acknowledgement (group commit), interval = every fsyncIntervalMs, never = leave it to the OS.',
    flag: '--fsync <policy>',
    env: 'TRIBUTARY_FSYNC',
    file: 'storage.fsync',
    choices: FSYNC_POLICIES,
  }),
  fsyncIntervalMs: option({
    kind: 'integer',
    schema: z.number().int().min(1),
    default: DEFAULT_LOG_CONFIG.fsyncIntervalMs,
    defaultText: String(DEFAULT_LOG_CONFIG.fsyncIntervalMs),
    help: 'With fsync=interval: milliseconds between fsyncs.',
    flag: '--fsync-interval-ms <ms>',
    env: 'TRIBUTARY_FSYNC_INTERVAL_MS',
    file: 'storage.fsyncIntervalMs',
  }),
  segmentBytes: option({
    kind: 'integer',
    // Kafka's segment.bytes is an int32: file positions in the offset index are 32-bit.
    schema: z.number().int().min(1024).max(2 ** 31 - 1),
    default: DEFAULT_LOG_CONFIG.segmentBytes,
    defaultText: String(DEFAULT_LOG_CONFIG.segmentBytes),
    help: 'Default for streams: roll to a new segment file past this many bytes.',
    flag: '--segment-bytes <bytes>',
    env: 'TRIBUTARY_SEGMENT_BYTES',
    file: 'storage.segmentBytes',
  }),
  retentionMs: option({
    kind: 'integer',
    schema: z.number().int().min(-1),
    default: DEFAULT_LOG_CONFIG.retentionMs,
    defaultText: `${DEFAULT_LOG_CONFIG.retentionMs} (7 days)`,
    help: 'Default for streams: delete whole segments whose newest record is older than this (ms); -1 keeps forever.',
    flag: '--retention-ms <ms>',
    env: 'TRIBUTARY_RETENTION_MS',
    file: 'storage.retentionMs',
  }),
  retentionBytes: option({
    kind: 'integer',
    schema: z.number().int().min(-1),
    default: DEFAULT_LOG_CONFIG.retentionBytes,
    defaultText: `${DEFAULT_LOG_CONFIG.retentionBytes} (no limit)`,
    help: 'Default for streams: delete the oldest segments while a partition is larger than this; -1 for no limit.',
    flag: '--retention-bytes <bytes>',
    env: 'TRIBUTARY_RETENTION_BYTES',
    file: 'storage.retentionBytes',
  }),
  memoryHighWatermark: option({
    kind: 'string',
    // RabbitMQ's vm_memory_high_watermark: relative (a fraction of total memory) or absolute (bytes).
    // The file may hold it as a YAML number (0.6).
    schema: z.preprocess(
      (v) => (typeof v === 'number' ? String(v) : v),
      z.string().regex(/^(0|0?\.[0-9]+|1|1\.0+|[1-9][0-9]*)$/, 'expected a fraction of total memory (0.6) or bytes (4000000000); 0 turns it off'),
    ),
    default: '0.6',
    defaultText: '0.6',
    help: 'Memory alarm: resident memory above this fraction of total memory (or above this many bytes when > 1) blocks publishing connections until it falls; 0 turns it off.',
    flag: '--memory-high-watermark <value>',
    env: 'TRIBUTARY_MEMORY_HIGH_WATERMARK',
    file: 'alarms.memoryHighWatermark',
  }),
  diskFreeLimit: option({
    kind: 'integer',
    schema: z.number().int().min(0),
    default: 50_000_000,
    defaultText: '50000000 (50 MB)',
    help: "Disk alarm: less free space than this (bytes) on the data directory's file system blocks publishing connections until it is freed; 0 turns it off.",
    flag: '--disk-free-limit <bytes>',
    env: 'TRIBUTARY_DISK_FREE_LIMIT',
    file: 'alarms.diskFreeLimit',
  }),
  users: option({
    kind: 'string',
    schema: z.string().regex(/^$|^[^:,]+:[^,]*(,[^:,]+:[^,]*)*$/, 'expected name:password[,name:password...]'),
    default: '',
    defaultText: '(none)',
    help: 'Users created or reset at every start, as name:password pairs separated by commas. Passwords are stored only as salted SCRAM-SHA-256/512 credentials. A fresh data directory also gets guest/guest.',
    flag: '--users <list>',
    env: 'TRIBUTARY_USERS',
    file: 'auth.users',
  }),
  loopbackUsers: option({
    kind: 'string',
    schema: z.string().regex(/^[^,]*(,[^,]+)*$/, 'expected a comma-separated list of user names'),
    default: 'guest',
    defaultText: 'guest',
    help: 'Users allowed to log in only from loopback addresses (as RabbitMQ treats guest); empty allows every user from anywhere.',
    flag: '--loopback-users <list>',
    env: 'TRIBUTARY_LOOPBACK_USERS',
    file: 'auth.loopbackUsers',
  }),
  logLevel: option({
    kind: 'enum',
    schema: z.enum(LOG_LEVELS),
    default: 'info',
    defaultText: 'info',
    help: 'Least severe level written to the log.',
    flag: '--log-level <level>',
    env: 'TRIBUTARY_LOG_LEVEL',
    file: 'log.level',
    choices: LOG_LEVELS,
  }),
  logFormat: option({
    kind: 'enum',
    schema: z.enum(LOG_FORMATS),
    default: (ctx: DefaultContext) => (ctx.stdoutIsTTY ? 'pretty' : 'json'),
    defaultText: 'pretty when stdout is a terminal, else json',
    help: 'pretty = one readable line per event; json = one JSON object per line (for log collectors).',
    flag: '--log-format <format>',
    env: 'TRIBUTARY_LOG_FORMAT',
    file: 'log.format',
    choices: LOG_FORMATS,
  }),
} as const;

export type OptionKey = keyof typeof OPTIONS;

/** The resolved configuration: one typed value per option. */
export type Config = {
  -readonly [K in OptionKey]: (typeof OPTIONS)[K] extends OptionSpec<infer T> ? T : never;
};

/** The whole resolved config as one zod object schema, strict: a key outside the table is an error. */
export const configSchema = z
  .object(Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, o.schema])) as { [K in OptionKey]: z.ZodType<Config[K]> })
  .strict();

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ResolvedConfig {
  config: Config;
  /** Where each value came from, for the start log and for debugging precedence. */
  sources: Record<OptionKey, ConfigSource>;
  /** Absolute path of the file that was read, or null when none was. */
  configFile: string | null;
}

/** A configuration problem; `key` names the flag, variable or file key at fault. */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.key = key;
  }
}

export interface ConfigInputs {
  /** Flag values as text, by option key (commander's attribute names map onto keys in cli/serve.ts). */
  flags?: Partial<Record<OptionKey, string>>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdoutIsTTY?: boolean;
}

const ENV_PREFIX = 'TRIBUTARY_';

/**
 * Resolves the configuration from flags, environment, file and defaults. Throws ConfigError (naming the key)
 * on an unknown file key or variable, a bad value, or an unreadable file.
 */
export async function resolveConfig(inputs: ConfigInputs = {}): Promise<ResolvedConfig> {
  const flags = inputs.flags ?? {};
  const env = inputs.env ?? process.env;
  const cwd = inputs.cwd ?? process.cwd();
  const stdoutIsTTY = inputs.stdoutIsTTY ?? Boolean(process.stdout.isTTY);
  const keys = Object.keys(OPTIONS) as OptionKey[];

  for (const key of Object.keys(flags) as OptionKey[]) {
    if (!(key in OPTIONS)) throw new ConfigError(key, `unknown option "${key}"`);
  }

  // Unknown TRIBUTARY_* variables are refused like unknown file keys: TRIBUTARY_KAFKA_PROT=1 is a typo.
  const envNames = new Map(keys.map((k) => [OPTIONS[k].env, k]));
  const envValues: Partial<Record<OptionKey, string>> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const key = envNames.get(name);
    if (key === undefined) throw new ConfigError(name, `unknown environment variable ${name} (known: ${[...envNames.keys()].join(', ')})`);
    // An empty variable counts as unset, so `TRIBUTARY_HOST= tributary serve` behaves like not setting it.
    if (value !== undefined && value !== '') envValues[key] = value;
  }

  const values: Record<string, unknown> = {};
  const sources = {} as Record<OptionKey, ConfigSource>;

  // The file's own path follows the same precedence (minus the file), so it is resolved first.
  const configFlag = flags.config;
  const configEnv = envValues.config;
  const configExplicit = configFlag !== undefined || configEnv !== undefined;
  const configText = configFlag ?? configEnv ?? (OPTIONS.config.default as string);
  const configPath = resolve(cwd, configText);
  values.config = configPath;
  sources.config = configFlag !== undefined ? 'flag' : configEnv !== undefined ? 'env' : 'default';
  const fileValues = await readConfigFile(configPath, configExplicit, sources.config === 'flag' ? OPTIONS.config.flag.split(' ')[0] : OPTIONS.config.env);

  for (const key of keys) {
    if (key === 'config') continue;
    const spec = OPTIONS[key] as OptionSpec<unknown>;
    const flagName = spec.flag.split(' ')[0];
    let value: unknown;
    if (flags[key] !== undefined) {
      value = fromText(spec, flags[key] as string, flagName);
      sources[key] = 'flag';
    } else if (envValues[key] !== undefined) {
      value = fromText(spec, envValues[key] as string, spec.env);
      sources[key] = 'env';
    } else if (spec.file !== null && fileValues.has(spec.file)) {
      value = check(spec, fileValues.get(spec.file), spec.file, `${spec.file} in ${configPath}`);
      sources[key] = 'file';
    } else {
      value = typeof spec.default === 'function' ? (spec.default as (ctx: DefaultContext) => unknown)({ values, stdoutIsTTY }) : spec.default;
      sources[key] = 'default';
    }
    if (spec.kind === 'path') value = resolve(cwd, value as string);
    values[key] = value;
  }

  const parsed = configSchema.safeParse(values);
  if (!parsed.success) {
    // Unreachable unless a default breaks its own schema; say so rather than start half-configured.
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? '?'), `invalid default: ${issue?.message}`);
  }
  return { config: parsed.data as Config, sources, configFile: fileValues.path };
}

const BOOLEAN_TRUE = new Set(['true', 'on', 'yes', '1']);
const BOOLEAN_FALSE = new Set(['false', 'off', 'no', '0']);

/** Converts text from a flag or variable by the option's kind, then checks it with the schema. */
function fromText(spec: OptionSpec<unknown>, text: string, where: string): unknown {
  if (spec.kind === 'integer') {
    // Number('') is 0 and Number('0x10') is 16: accept plain decimal integers only.
    if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(where, `${where}: expected an integer, got "${text}"`);
    return check(spec, Number(text.trim()), where);
  }
  if (spec.kind === 'boolean') {
    const word = text.trim().toLowerCase();
    if (BOOLEAN_TRUE.has(word)) return true;
    if (BOOLEAN_FALSE.has(word)) return false;
    throw new ConfigError(where, `${where}: expected true or false, got "${text}"`);
  }
  return check(spec, text, where);
}

/** Checks a value against the option's schema; `key` is what ConfigError names, `where` adds the file. */
function check(spec: OptionSpec<unknown>, value: unknown, key: string, where: string = key): unknown {
  const result = spec.schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // zod's own message already lists an enum's allowed values.
  throw new ConfigError(key, `${where}: ${issue?.message ?? 'invalid value'}, got ${JSON.stringify(value)}`);
}

type FileValues = Map<string, unknown> & { path: string | null };

/**
 * Reads the YAML file into dotted keys. Nested mappings are walked only where the table has keys below them,
 * so `kafka: { prot: 1 }` is reported as the unknown key `kafka.prot`.
 */
async function readConfigFile(path: string, explicit: boolean, namedBy: string): Promise<FileValues> {
  const out = new Map<string, unknown>() as FileValues;
  out.path = null;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return out;
    throw new ConfigError(namedBy, `cannot read config file ${path} (${namedBy}): ${code ?? (err as Error).message}`);
  }
  out.path = path;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, `config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return out;
  if (!isPlainObject(doc)) throw new ConfigError(path, `config file ${path} must be a mapping of keys to values`);

  const fileKeys = new Set<string>();
  for (const spec of Object.values(OPTIONS) as OptionSpec<unknown>[]) if (spec.file !== null) fileKeys.add(spec.file);
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const dotted = prefix + k;
      if (fileKeys.has(dotted)) out.set(dotted, v);
      else if (isPlainObject(v) && [...fileKeys].some((f) => f.startsWith(dotted + '.'))) walk(v, dotted + '.');
      else throw new ConfigError(dotted, `unknown key "${dotted}" in config file ${path} (known: ${[...fileKeys].join(', ')})`);
    }
  };
  walk(doc, '');
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The storage defaults for new streams, from the resolved config. */
export function logConfigFrom(config: Config): LogConfig {
  return {
    ...DEFAULT_LOG_CONFIG,
    fsync: config.fsync,
    fsyncIntervalMs: config.fsyncIntervalMs,
    segmentBytes: config.segmentBytes,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
  };
}

export interface OptionDescription {
  key: OptionKey;
  /** `--data-dir <path>` */
  flag: string;
  env: string;
  file: string | null;
  defaultText: string;
  /** The default value itself, or null when it is computed (advertisedHost, logFormat). */
  defaultValue: string | number | boolean | null;
  help: string;
  choices: readonly string[] | null;
}

/** The table as plain data, in table order, for --help and docs/configuration.md. */
export function describeOptions(): OptionDescription[] {
  return (Object.keys(OPTIONS) as OptionKey[]).map((key) => {
    const spec = OPTIONS[key] as OptionSpec<unknown>;
    const defaultValue = typeof spec.default === 'string' || typeof spec.default === 'number' || typeof spec.default === 'boolean' ? spec.default : null;
    return { key, flag: spec.flag, env: spec.env, file: spec.file, defaultText: spec.defaultText, defaultValue, help: spec.help, choices: spec.choices ?? null };
  });
}

/** `alice:pw,bob:pw2` → seed users for the broker. */
export function parseUsers(list: string): Array<{ name: string; password: string }> {
  if (list === '') return [];
  return list.split(',').map((pair) => {
    const colon = pair.indexOf(':');
    return { name: pair.slice(0, colon), password: pair.slice(colon + 1) };
  });
}

/** `guest,ops` → names; the empty string → none. */
export function parseNameList(list: string): string[] {
  return list === '' ? [] : list.split(',');
}
