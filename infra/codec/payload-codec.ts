/**
 * The payload codec every Temporal client, worker and replayer of the system uses when keys are
 * configured: AES-256-GCM over the whole payload (its metadata and data, serialized as the
 * temporal.api.common.v1.Payload protobuf, as Temporal's samples do), a fresh random 12-byte nonce per
 * payload, and the id of the key in the outer payload's metadata so that an older key still decrypts
 * after a rotation. Pure: node:crypto and the protobuf types, no configuration, no I/O.
 *
 * The stored form: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`; data
 * nonce (12 bytes) | ciphertext | GCM tag (16 bytes). The key id is also the GCM additional data, so
 * a payload whose key id was changed does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** A payload names a key this process was not given: loud, never a pass-through. */
export class UnknownEncryptionKeyError extends Error {
  constructor(readonly keyId: string, readonly knownKeyIds: readonly string[]) {
    super(`Payload was encrypted with key "${keyId}", which is not configured (known: ${knownKeyIds.join(', ') || 'none'}); set CODEC_KEYS or CODEC_KEY_FILE`);
    this.name = 'UnknownEncryptionKeyError';
  }
}

/** An encrypted payload that does not decrypt (tampered, truncated, or the key id names another key). */
export class PayloadDecryptionError extends Error {
  constructor(readonly keyId: string, reason: string) {
    super(`Payload encrypted with key "${keyId}" could not be decrypted: ${reason}`);
    this.name = 'PayloadDecryptionError';
  }
}

/** Bad key configuration: named ids, 32-byte keys, no id twice. */
export class CodecKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecKeyError';
  }
}

/**
 * Parses `id=base64key` entries separated by commas, whitespace or new lines (`#` starts a comment):
 * the form of both CODEC_KEYS and a key file.
 */
export function parseKeyList(text: string, source: string): CodecKey[] {
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  return entries.map((entry) => {
    const at = entry.indexOf('=');
    const id = at > 0 ? entry.slice(0, at) : '';
    if (!KEY_ID_PATTERN.test(id)) throw new CodecKeyError(`${source}: an entry must be <id>=<base64 key> with an id of letters, digits, ".", "_" or "-"`);
    const encoded = entry.slice(at + 1);
    const key = Buffer.from(encoded, 'base64');
    // Buffer.from skips what is not base64: insist on a faithful round trip of exactly 32 bytes.
    if (key.length !== KEY_BYTES || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      throw new CodecKeyError(`${source}: key "${id}" must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
    }
    return { id, key };
  });
}

/** A fresh key in the list form, for a dev key file and tests. */
export function generateKeyEntry(id: string): string {
  return `${id}=${randomBytes(KEY_BYTES).toString('base64')}`;
}

export interface KeyringOptions {
  keys: readonly CodecKey[];
  /** The key new payloads are encrypted with (default: the first). */
  encryptKeyId?: string;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly encryptKeyId: string;

  constructor(options: KeyringOptions) {
    const keys = new Map<string, Buffer>();
    for (const { id, key } of options.keys) {
      if (keys.has(id)) throw new CodecKeyError(`key id "${id}" is configured twice`);
      if (key.length !== KEY_BYTES) throw new CodecKeyError(`key "${id}" must be ${KEY_BYTES} bytes`);
      keys.set(id, Buffer.from(key));
    }
    const encryptKeyId = options.encryptKeyId ?? options.keys[0]?.id;
    if (encryptKeyId === undefined) throw new CodecKeyError('the payload codec needs at least one key');
    if (!keys.has(encryptKeyId)) throw new CodecKeyError(`the encrypting key "${encryptKeyId}" is not among the configured keys (${[...keys.keys()].join(', ')})`);
    this.keys = keys;
    this.encryptKeyId = encryptKeyId;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  /** Payloads without the encrypted encoding (histories recorded before the codec) pass through as they are. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private encrypt(payload: Payload): Payload {
    const key = this.keys.get(this.encryptKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(utf8.encode(this.encryptKeyId));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(this.encryptKeyId) },
      data: new Uint8Array(data),
    };
  }

  private decrypt(payload: Payload): Payload {
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const keyId = idBytes ? fromUtf8.decode(idBytes) : '';
    if (!keyId) throw new PayloadDecryptionError('', `no ${KEY_ID_METADATA} in its metadata`);
    const key = this.keys.get(keyId);
    if (!key) throw new UnknownEncryptionKeyError(keyId, this.keyIds);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new PayloadDecryptionError(keyId, 'too short');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8.encode(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(keyId, 'authentication failed (tampered, or another key under this id)');
    }
    const inner = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: inner.metadata ?? {}, data: inner.data ?? new Uint8Array() };
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString('utf8') === ENCRYPTED_ENCODING;
}
