import { z } from 'zod';

/**
 * The one place that reads the environment. Every default points at the local native stack
 * (stack/stack.env), so the same code runs against clusters or managed services by setting env vars.
 */

const port = z.coerce.number().int().min(1).max(65535);
// 0 lets the OS pick a free port (the process logs the one it got): tests run several at once.
const listenPort = z.coerce.number().int().min(0).max(65535);
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');
const csv = z
  .string()
  .min(1)
  .transform((s) => s.split(',').map((part) => part.trim()).filter(Boolean));

/** The relay's default wait for the workflow's own publishing (tests that append directly set 0). */
export const DEFAULT_RELAY_FAST_PATH_GRACE_MS = 5000;

const EnvSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.url().default('postgres://orders:orders@127.0.0.1:5432/orders'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  DATABASE_SSL: flag,
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),

  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  // A workflow bundle built in advance (workers/workflow-bundle.ts): the order worker then starts in
  // about a second instead of bundling the workflow code at every start.
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  // Temporal Cloud: an API key, or mTLS with a client certificate and key (PEM file paths).
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: flag,
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),

  // Payload encryption (infra/codec): `<id>=<base64 32-byte key>` entries, comma-separated, and/or a
  // file of such entries (one a line). The first key (or CODEC_ENCRYPT_KEY_ID) encrypts, every key
  // decrypts. No key at all: payloads stay plain JSON, as before the codec. `npm start` makes a local key file.
  CODEC_KEYS: z.string().optional(),
  CODEC_KEY_FILE: z.string().optional(),
  CODEC_ENCRYPT_KEY_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  // The codec server (workers/codec-server.ts) that the Web UI and the temporal CLI decode through.
  CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  CODEC_SERVER_PORT: listenPort.default(8888),
  /** Browser origins allowed to call it (CORS): the Web UI's. */
  CODEC_SERVER_CORS_ORIGINS: csv.default(['http://localhost:8233', 'http://127.0.0.1:8233']),
  /**
   * Accept requests from an allowed browser origin without an operator key: the dev server's Web UI
   * cannot send one (it has no login either). Off by default; `npm start` turns it on for the local UI.
   */
  CODEC_SERVER_TRUST_UI_ORIGIN: flag,

  RABBITMQ_URL: z.string().regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://').default('amqp://guest:guest@127.0.0.1:5672'),
  RABBITMQ_MANAGEMENT_URL: z.url().default('http://guest:guest@127.0.0.1:15672'),

  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().min(1).default('orders-on-temporal'),
  KAFKA_SSL: flag,
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  // Put before the system's topic names and fixed consumer-group names, so that environments can share
  // one cluster (the test suite uses its own; see stack/stack.env).
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"').default(''),

  // The outbox relay: its checkpoints are `<prefix>:rabbitmq` and `<prefix>:kafka` in subscription_checkpoints.
  RELAY_CHECKPOINT_PREFIX: z.string().regex(/^[A-Za-z0-9._:-]+$/).default('relay'),
  RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  RELAY_MAX_POLL_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  /** How long the relay leaves a fresh event to the workflow's own publishing before publishing it itself. */
  RELAY_FAST_PATH_GRACE_MS: z.coerce.number().int().min(0).default(DEFAULT_RELAY_FAST_PATH_GRACE_MS),
  /**
   * Relay leadership (relay_leases): a lane is led by the instance holding its lease. The lease lasts
   * RELAY_LEASE_TTL_MS on the database's clock and is renewed (or, by a standby, tried) every
   * RELAY_LEASE_RENEW_INTERVAL_MS; a standby takes over at most about TTL + interval after the leader died.
   */
  RELAY_LEASE_TTL_MS: z.coerce.number().int().min(200).default(5000),
  RELAY_LEASE_RENEW_INTERVAL_MS: z.coerce.number().int().min(20).default(1000),
  /** Names this relay instance in relay_leases (default: host name, pid and a random suffix). */
  RELAY_INSTANCE_ID: z.string().min(1).max(200).optional(),

  /** `npm start` runs this many instances of every process (workers/supervisor.ts replicate). */
  REPLICAS: z.coerce.number().int().min(1).max(8).default(1),

  /** Where the workers' own health and metrics servers listen (0.0.0.0 in containers). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  RELAY_METRICS_PORT: listenPort.default(9100),
  PROJECTOR_ORDER_METRICS_PORT: listenPort.default(9101),
  PROJECTOR_ANALYTICS_METRICS_PORT: listenPort.default(9102),
  /**
   * The Temporal SDK's own metrics (its core runtime: schedule-to-start latency, slots, sticky cache) in
   * Prometheus format, served by the SDK in each worker process: the first worker role (WORKER_ROLES
   * order) on this port, each next role on the next one. 0: not served.
   */
  WORKER_METRICS_PORT: listenPort.default(9103),
  // A projector's queue / consumer group (default: order-projector or analytics-projector) and the schema
  // of the read models it writes: another pair gives a test or a dry run read models of its own.
  PROJECTOR_CONSUMER_NAME: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
  PROJECTOR_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lower-case SQL identifier').default('public'),
  // Deliveries a projector applies in one transaction (1: one transaction per delivery), how long a
  // RabbitMQ projector waits for a batch to fill, and its prefetch (default twice the batch, so the
  // next batch arrives while one commits). Kafka batches are what one fetch of a partition holds.
  PROJECTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  PROJECTOR_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(5),
  PROJECTOR_PREFETCH: z.coerce.number().int().min(1).max(10_000).optional(),

  // A stand-in for a slow card network, so tests and demos can kill a worker mid-capture. 0 normally.
  PAYMENTS_CAPTURE_DELAY_MS: z.coerce.number().int().min(0).default(0),

  API_PORT: port.default(3000),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),
  /** How long GET /orders/{id}?minVersion= waits for the read model to catch up. */
  API_READ_YOUR_WRITES_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(3000),
  /** How long an unsubmitted draft lives before it expires. */
  ORDER_DRAFT_TTL_MS: z.coerce.number().int().min(1000).default(24 * 60 * 60 * 1000),

  // Retention of the deduplication records: a projector forgets its processed_messages claims older than
  // this, and the API its idempotency_keys (a key reused after that is no longer checked against its
  // first request). Pruned every PRUNE_INTERVAL_MS, in bounded batches (infra/retention.ts).
  PROCESSED_MESSAGES_RETENTION_HOURS: z.coerce.number().min(1).default(168),
  IDEMPOTENCY_KEYS_RETENTION_HOURS: z.coerce.number().min(1).default(168),
  PRUNE_INTERVAL_MS: z.coerce.number().int().min(100).default(10 * 60 * 1000),
});

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function crossFieldIssues(env: Env): string[] {
  const issues: string[] = [];
  if (env.KAFKA_SASL_MECHANISM && !(env.KAFKA_SASL_USERNAME && env.KAFKA_SASL_PASSWORD)) {
    issues.push('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  }
  if (env.CODEC_ENCRYPT_KEY_ID && !env.CODEC_KEYS && !env.CODEC_KEY_FILE) {
    issues.push('CODEC_ENCRYPT_KEY_ID needs CODEC_KEYS or CODEC_KEY_FILE');
  }
  if (Boolean(env.TEMPORAL_TLS_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_KEY_PATH)) {
    issues.push('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together');
  }
  if (env.PROJECTOR_PREFETCH !== undefined && env.PROJECTOR_PREFETCH < env.PROJECTOR_BATCH_SIZE) {
    issues.push('PROJECTOR_PREFETCH must be at least PROJECTOR_BATCH_SIZE, or no batch can fill');
  }
  return issues;
}

/** Parses and validates an environment; throws ConfigError naming every bad variable. */
export function parseConfig(source: NodeJS.ProcessEnv): Env {
  // An empty variable means "unset", as shells and compose files often leave them.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const issues = crossFieldIssues(result.data);
  if (issues.length > 0) throw new ConfigError(issues);
  return result.data;
}

/** The names of every variable the app reads: docker-compose.yml may set only these. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

let cached: Env | undefined;

export function config(): Env {
  cached ??= parseConfig(process.env);
  return cached;
}

/**
 * Forgets the parsed environment, so that the next config() reads process.env again: for a tool that
 * moves its own process into another environment before it connects anywhere (the benchmarks).
 */
export function reloadConfig(): Env {
  cached = undefined;
  return config();
}
