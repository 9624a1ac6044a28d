/** The codec's keys from the configuration: CODEC_KEYS, then the entries of CODEC_KEY_FILE. */
import { readFileSync } from 'node:fs';
import type { Env } from '../../config';
import { AesGcmPayloadCodec, CodecKeyError, parseKeyList, type CodecKey } from './payload-codec';

export function configuredKeys(env: Pick<Env, 'CODEC_KEYS' | 'CODEC_KEY_FILE'>): CodecKey[] {
  const keys = env.CODEC_KEYS ? parseKeyList(env.CODEC_KEYS, 'CODEC_KEYS') : [];
  if (env.CODEC_KEY_FILE) {
    let text: string;
    try {
      text = readFileSync(env.CODEC_KEY_FILE, 'utf8');
    } catch (err) {
      throw new CodecKeyError(`CODEC_KEY_FILE ${env.CODEC_KEY_FILE} cannot be read: ${(err as Error).message}`);
    }
    keys.push(...parseKeyList(text, `CODEC_KEY_FILE ${env.CODEC_KEY_FILE}`));
  }
  return keys;
}

/** The configured codec, or undefined when no key is configured (payloads then stay plain). */
export function codecFromConfig(env: Pick<Env, 'CODEC_KEYS' | 'CODEC_KEY_FILE' | 'CODEC_ENCRYPT_KEY_ID'>): AesGcmPayloadCodec | undefined {
  const keys = configuredKeys(env);
  if (keys.length === 0) return undefined;
  return new AesGcmPayloadCodec({ keys, encryptKeyId: env.CODEC_ENCRYPT_KEY_ID });
}
