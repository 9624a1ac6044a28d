/**
 * Local development encrypts payloads like production: `npm start` makes a key file once in the
 * stack's state folder (the same place stack/lib.sh keeps server data, so it lives as long as the dev
 * server's SQLite file) and hands it to every process. Configured keys (CODEC_KEYS / CODEC_KEY_FILE) win.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { generateKeyEntry } from './payload-codec';

/** stack/lib.sh's STATE_DIR. */
export function stackStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ORDERS_STATE_DIR) return env.ORDERS_STATE_DIR;
  if (process.getuid?.() === 0) return '/var/lib/orders-on-temporal';
  return path.join(env.XDG_STATE_HOME ?? path.join(homedir(), '.local', 'state'), 'orders-on-temporal');
}

/**
 * Sets CODEC_KEY_FILE (made if absent, mode 0600) and CODEC_SERVER_TRUST_UI_ORIGIN (the local Web UI
 * has no login and cannot send a key) in `env` unless configured; returns the key file used, if any.
 */
export function ensureDevelopmentCodecKeys(env: NodeJS.ProcessEnv): string | undefined {
  env.CODEC_SERVER_TRUST_UI_ORIGIN ??= 'true';
  if (env.CODEC_KEYS) return env.CODEC_KEY_FILE;
  if (env.CODEC_KEY_FILE) return env.CODEC_KEY_FILE;
  const file = path.join(stackStateDir(env), 'codec', 'dev-keys');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const entry = generateKeyEntry(`dev-${new Date().toISOString().slice(0, 10)}`);
    writeFileSync(file, `# Payload keys of the local dev system (npm start). The first encrypts; add a new one on top to rotate.\n${entry}\n`, { mode: 0o600, flag: 'wx' });
  }
  env.CODEC_KEY_FILE = file;
  return file;
}
