import { readFile } from 'node:fs/promises';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { config } from '../config';

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

export async function connectTemporalClient(): Promise<Client> {
  const connection = await Connection.connect(await temporalConnectionOptions());
  return new Client({ connection, namespace: config().TEMPORAL_NAMESPACE });
}
