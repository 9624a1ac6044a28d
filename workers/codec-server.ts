/**
 * The codec server process (infra/codec/server.ts): decodes and encodes payloads for the Web UI and
 * the temporal CLI with the configured keys. Serves /health/live, /health/ready, /metrics beside
 * /encode and /decode on CODEC_SERVER_HOST:CODEC_SERVER_PORT. SIGTERM/SIGINT close it gracefully.
 */
import { config } from '../config';
import { createKnex, createLogger } from '../infra';
import { codecFromConfig } from '../infra/codec/keys';
import { buildCodecServer } from '../infra/codec/server';

async function main(): Promise<void> {
  const env = config();
  const logger = createLogger('codec-server');
  const codec = codecFromConfig(env);
  if (!codec) throw new Error('The codec server needs keys: set CODEC_KEYS or CODEC_KEY_FILE');
  const db = createKnex({ poolMax: 2, applicationName: 'codec-server' });
  const app = buildCodecServer({ codec, db, corsOrigins: env.CODEC_SERVER_CORS_ORIGINS, trustUiOrigin: env.CODEC_SERVER_TRUST_UI_ORIGIN, logger });
  await app.listen({ host: env.CODEC_SERVER_HOST, port: env.CODEC_SERVER_PORT });
  const address = app.server.address();
  logger.info(
    { address, encryptKeyId: codec.encryptKeyId, keyIds: codec.keyIds, corsOrigins: env.CODEC_SERVER_CORS_ORIGINS, trustUiOrigin: env.CODEC_SERVER_TRUST_UI_ORIGIN },
    'codec server listening',
  );
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping codec server');
    await app.close();
    await db.destroy();
    logger.info('codec server stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
