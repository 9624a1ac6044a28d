import { config } from '../../config';

/** A queue as the management API reports it. */
export interface QueueDepth {
  name: string;
  /** Ready plus unacknowledged. */
  messages: number;
  ready: number;
  unacknowledged: number;
  consumers: number;
}

interface QueueRow {
  name: string;
  messages?: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
}

/** The virtual host an AMQP URL names ('/' when it names none), as amqplib reads it. */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname;
  return path.length > 1 ? decodeURIComponent(path.slice(1)) : '/';
}

/** The virtual host of RABBITMQ_URL: this environment's. */
export function rabbitVhost(): string {
  return vhostOf(config().RABBITMQ_URL);
}

/**
 * Queue depths from the management HTTP API (RABBITMQ_MANAGEMENT_URL, credentials in the URL). The
 * API's numbers are refreshed every few seconds by the broker, so they suit metrics, not assertions.
 */
export async function rabbitQueueDepths(filter: (name: string) => boolean = () => true, vhost: string = rabbitVhost()): Promise<QueueDepth[]> {
  const path = `api/queues/${encodeURIComponent(vhost)}?columns=name,messages,messages_ready,messages_unacknowledged,consumers`;
  const response = await rabbitManagementFetch(path);
  if (!response.ok) throw new Error(`RabbitMQ management API answered ${response.status} for ${path}`);
  const rows = (await response.json()) as QueueRow[];
  return rows
    .filter((row) => filter(row.name))
    .map((row) => ({
      name: row.name,
      messages: row.messages ?? 0,
      ready: row.messages_ready ?? 0,
      unacknowledged: row.messages_unacknowledged ?? 0,
      consumers: row.consumers ?? 0,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A request to the management HTTP API (RABBITMQ_MANAGEMENT_URL); path is relative to its root, e.g. `api/vhosts/x`. */
export async function rabbitManagementFetch(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const base = new URL(config().RABBITMQ_MANAGEMENT_URL);
  // fetch refuses URLs with credentials: they go into the Authorization header instead.
  const auth = Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64');
  base.username = '';
  base.password = '';
  const url = new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
  return fetch(url, {
    method: init.method ?? 'GET',
    headers: { authorization: `Basic ${auth}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
}
