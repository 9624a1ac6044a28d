import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../../../config';
import { REPO_DIR } from '../../support/stack';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string | number>;
  command?: string[];
}

function readStackEnv(): Record<string, string> {
  const text = readFileSync(path.join(REPO_DIR, 'stack', 'stack.env'), 'utf8');
  const entries = [...text.matchAll(/^([A-Z_]+)=("?)(.*)\2$/gm)].map((m) => [m[1], m[3]] as [string, string]);
  return Object.fromEntries(entries);
}

describe('docker-compose.yml agrees with the native stack', () => {
  const compose = parse(readFileSync(path.join(REPO_DIR, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const stack = readStackEnv();
  const published = (service: string): number[] =>
    (compose.services[service]?.ports ?? []).map((p) => Number(p.split(':')[0]));

  it('runs the same services on the same ports', () => {
    expect(published('postgres')).toEqual([Number(stack.POSTGRES_PORT)]);
    expect(published('rabbitmq').sort()).toEqual([Number(stack.RABBITMQ_PORT), Number(stack.RABBITMQ_MANAGEMENT_PORT)].sort());
    expect(published('kafka')).toEqual([Number(stack.KAFKA_PORT)]);
    expect(published('temporal').sort()).toEqual([Number(stack.TEMPORAL_PORT), Number(stack.TEMPORAL_UI_PORT)].sort());
    expect(published('jaeger').sort()).toEqual([Number(stack.JAEGER_OTLP_GRPC_PORT), Number(stack.JAEGER_OTLP_HTTP_PORT), Number(stack.JAEGER_UI_PORT)].sort());
    expect(compose.services.jaeger?.image).toBe(`jaegertracing/jaeger:${stack.JAEGER_IMAGE_VERSION}`);
  });

  it('uses the same versions, database credentials, search attributes and test namespace', () => {
    expect(compose.services.postgres?.image).toBe(`postgres:${stack.POSTGRES_MAJOR}`);
    expect(compose.services.kafka?.image).toBe(`apache/kafka:${stack.KAFKA_VERSION}`);
    expect(compose.services.temporal?.image).toBe(`temporalio/temporal:${stack.TEMPORAL_CLI_VERSION}`);
    expect(compose.services.postgres?.environment).toMatchObject({
      POSTGRES_USER: stack.POSTGRES_USER,
      POSTGRES_PASSWORD: stack.POSTGRES_PASSWORD,
      POSTGRES_DB: stack.POSTGRES_DB,
    });
    const registered = (compose.services.temporal?.command ?? [])
      .filter((arg) => arg.startsWith('--search-attribute='))
      .map((arg) => arg.slice('--search-attribute='.length));
    expect(registered.sort()).toEqual((stack.TEMPORAL_SEARCH_ATTRIBUTES ?? '').split(' ').sort());
    expect(compose.services.temporal?.command).toContain(`--namespace=${stack.TEST_TEMPORAL_NAMESPACE}`);
  });

  it("gives the app's processes only variables the config module reads, with valid values on the same ports", () => {
    const appServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(appServices.length).toBeGreaterThan(0);
    for (const [, service] of appServices) {
      const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
      // OTEL_*: the OpenTelemetry SDK's standard variables, which it reads itself (infra/tracing.ts).
      for (const name of Object.keys(env).filter((key) => !key.startsWith('OTEL_'))) expect(CONFIG_VARIABLES).toContain(name);
      const parsed = parseConfig(env);
      expect(new URL(parsed.DATABASE_URL).port).toBe(stack.POSTGRES_PORT);
      expect(parsed.TEMPORAL_ADDRESS.split(':')[1]).toBe(stack.TEMPORAL_PORT);
      expect(new URL(parsed.RABBITMQ_URL).port).toBe(stack.RABBITMQ_PORT);
      expect(parsed.KAFKA_BROKERS.map((b) => b.split(':')[1])).toEqual([stack.KAFKA_PORT]);
    }
  });

  it('runs each app process from the compiled dist/ of a source file that npm run build compiles', () => {
    const appServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    for (const [name, service] of appServices) {
      const [bin, entry = ''] = service.command ?? [];
      expect([name, bin]).toEqual([name, 'node']);
      expect(entry).toMatch(/^dist\/(stack|workers|scripts|api)\/[\w/-]+\.js$/);
      expect(existsSync(path.join(REPO_DIR, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });

  it("publishes the relay's and projectors' health and metrics servers on the config module's default ports", () => {
    const defaults = parseConfig({});
    expect(published('relay')).toEqual([defaults.RELAY_METRICS_PORT]);
    expect(published('order-projector')).toEqual([defaults.PROJECTOR_ORDER_METRICS_PORT]);
    expect(published('analytics-projector')).toEqual([defaults.PROJECTOR_ANALYTICS_METRICS_PORT]);
  });

  it('runs the codec server on the native port, and points the Web UI at it', () => {
    const defaults = parseConfig({});
    expect(String(defaults.CODEC_SERVER_PORT)).toBe(stack.CODEC_SERVER_PORT);
    expect(published('codec-server')).toEqual([defaults.CODEC_SERVER_PORT]);
    expect(compose.services.temporal?.command).toContain(`--ui-codec-endpoint=http://localhost:${stack.CODEC_SERVER_PORT}`);
    expect(compose.services['codec-server']?.environment).toHaveProperty('CODEC_KEYS');
  });

  it("matches the config module's local defaults to the native stack's ports", () => {
    const defaults = parseConfig({});
    const db = new URL(defaults.DATABASE_URL);
    expect([db.port, db.username, db.password, db.pathname.slice(1)]).toEqual([
      stack.POSTGRES_PORT,
      stack.POSTGRES_USER,
      stack.POSTGRES_PASSWORD,
      stack.POSTGRES_DB,
    ]);
    expect(defaults.TEMPORAL_ADDRESS).toBe(`127.0.0.1:${stack.TEMPORAL_PORT}`);
    expect(new URL(defaults.RABBITMQ_URL).port).toBe(stack.RABBITMQ_PORT);
    expect(defaults.KAFKA_BROKERS).toEqual([`127.0.0.1:${stack.KAFKA_PORT}`]);
    expect(String(defaults.API_PORT)).toBe(stack.API_PORT);
    expect(new URL(defaults.TEMPORAL_UI_URL).port).toBe(stack.TEMPORAL_UI_PORT);
  });
});
