import { readFile } from 'node:fs/promises';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { config } from '../config';
import { codecFromConfig } from './codec/keys';
import { temporalClientInterceptors } from './temporal-tracing';

/** What both the client's Connection and the worker's NativeConnection accept. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/** Connection options for a local dev server, a self-hosted cluster (mTLS) or Temporal Cloud (API key). */
export async function temporalConnectionOptions(): Promise<TemporalConnectionOptions> {
  const env = config();
  const options: TemporalConnectionOptions = { address: env.TEMPORAL_ADDRESS };
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    options.tls = {
      serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
      clientCertPair: {
        crt: await readFile(env.TEMPORAL_TLS_CERT_PATH),
        key: await readFile(env.TEMPORAL_TLS_KEY_PATH),
      },
    };
  } else if (env.TEMPORAL_TLS || env.TEMPORAL_API_KEY) {
    options.tls = env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : true;
  }
  if (env.TEMPORAL_API_KEY) options.apiKey = env.TEMPORAL_API_KEY;
  return options;
}

/**
 * `codec`: the configured one (default), another (tests, the benchmark), or null for none. Every
 * client, worker and replayer of the system gets its data converter here.
 */
export interface DataConverterOptions {
  codec?: PayloadCodec | null;
}

let configured: { codec: PayloadCodec | undefined } | undefined;

/** The configured payload codec (infra/codec), read once; undefined when no key is configured. */
export function configuredPayloadCodec(): PayloadCodec | undefined {
  configured ??= { codec: codecFromConfig(config()) };
  return configured.codec;
}

/** The data converter: the default JSON payloads, encrypted by the codec when one is configured. */
export function temporalDataConverter(options: DataConverterOptions = {}): DataConverter {
  const codec = options.codec === undefined ? configuredPayloadCodec() : options.codec;
  return codec ? { payloadCodecs: [codec] } : {};
}

/** A client on an open connection, with the system's data converter. */
export function temporalClient(connection: Connection, namespace = config().TEMPORAL_NAMESPACE, options: DataConverterOptions = {}): Client {
  return new Client({ connection, namespace, dataConverter: temporalDataConverter(options), interceptors: temporalClientInterceptors() });
}

export async function connectTemporalClient(options: DataConverterOptions & { namespace?: string } = {}): Promise<Client> {
  const connection = await Connection.connect(await temporalConnectionOptions());
  return temporalClient(connection, options.namespace, options);
}
