import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  CodecKeyError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  UnknownEncryptionKeyError,
  generateKeyEntry,
  isEncrypted,
  parseKeyList,
} from '../../../infra/codec/payload-codec';
import { codecFromConfig } from '../../../infra/codec/keys';
import { payloadFromJson, payloadToJson } from '../../../infra/codec/server';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined): string => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const input = defaultPayloadConverter.toPayload({ customerId: 'cust-secret-42', amountMinor: 123456 });

describe('AES-256-GCM payload codec', () => {
  it('encrypts the whole payload (metadata and data) and decrypts it back', async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key('k1')] });
    const [encrypted] = await codec.encode([input]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(encrypted!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    expect(text(encrypted!.data)).not.toContain('cust-secret-42');
    expect(text(encrypted!.data)).not.toContain('json/plain');
    const [decrypted] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decrypted!)).toEqual({ customerId: 'cust-secret-42', amountMinor: 123456 });
    expect(text(decrypted!.metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh nonce per payload: the same value never encrypts the same way twice', async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key('k1')] });
    const [a, b] = await codec.encode([input, input]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!.subarray(0, 12)).equals(Buffer.from(b!.data!.subarray(0, 12)))).toBe(false);
  });

  it('passes payloads without the encrypted encoding through on decode (histories from before the codec)', async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key('k1')] });
    expect(await codec.decode([input])).toEqual([input]);
    expect(isEncrypted(input)).toBe(false);
  });

  it('rotation: the first (or the named) key encrypts, every configured key decrypts', async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const old = new AesGcmPayloadCodec({ keys: [k1] });
    const rotated = new AesGcmPayloadCodec({ keys: [k2, k1] });
    const [underK1] = await old.encode([input]);
    const [underK2] = await rotated.encode([input]);
    expect(text(underK2!.metadata![KEY_ID_METADATA])).toBe('k2');
    expect(await rotated.decode([underK1!, underK2!])).toEqual([input, input]);
    const named = new AesGcmPayloadCodec({ keys: [k2, k1], encryptKeyId: 'k1' });
    expect(named.encryptKeyId).toBe('k1');
  });

  it('fails loudly, with a typed error, on a key id it was not given', async () => {
    const [underK2] = await new AesGcmPayloadCodec({ keys: [key('k2')] }).encode([input]);
    const codec = new AesGcmPayloadCodec({ keys: [key('k1')] });
    await expect(codec.decode([underK2!])).rejects.toThrow(UnknownEncryptionKeyError);
    await expect(codec.decode([underK2!])).rejects.toThrow(/"k2".*not configured.*known: k1/);
  });

  it('refuses a tampered payload, a renamed key id and another key under the same id', async () => {
    const k1 = key('k1');
    const codec = new AesGcmPayloadCodec({ keys: [k1, key('k2')] });
    const [encrypted] = await codec.encode([input]);
    const flipped = Buffer.from(encrypted!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: new Uint8Array(flipped) }])).rejects.toThrow(PayloadDecryptionError);
    const renamed: Payload = { ...encrypted!, metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(codec.decode([renamed])).rejects.toThrow(PayloadDecryptionError);
    await expect(new AesGcmPayloadCodec({ keys: [key('k1')] }).decode([encrypted!])).rejects.toThrow(PayloadDecryptionError);
  });

  it('refuses bad key configurations', () => {
    expect(() => new AesGcmPayloadCodec({ keys: [] })).toThrow(CodecKeyError);
    expect(() => new AesGcmPayloadCodec({ keys: [key('a'), key('a')] })).toThrow(/twice/);
    expect(() => new AesGcmPayloadCodec({ keys: [key('a')], encryptKeyId: 'b' })).toThrow(/not among/);
    expect(() => new AesGcmPayloadCodec({ keys: [{ id: 'a', key: randomBytes(16) }] })).toThrow(/32 bytes/);
  });
});

describe('codec key lists', () => {
  it('parses id=base64 entries separated by commas or lines, with comments', () => {
    const a = generateKeyEntry('2026-a');
    const b = generateKeyEntry('2025-b');
    const keys = parseKeyList(`# current first\n${a}\n\n${b} # older\n`, 'test');
    expect(keys.map((k) => k.id)).toEqual(['2026-a', '2025-b']);
    expect(parseKeyList(`${a},${b}`, 'test').map((k) => k.key.length)).toEqual([32, 32]);
  });

  it('names the source and the key when an entry is wrong', () => {
    expect(() => parseKeyList('k1', 'CODEC_KEYS')).toThrow(/CODEC_KEYS: an entry must be/);
    expect(() => parseKeyList(`k1=${randomBytes(16).toString('base64')}`, 'CODEC_KEYS')).toThrow(/key "k1" must be 32 bytes/);
    expect(() => parseKeyList('k1=not*base64*at*all*not*base64*at*all*xx==', 'CODEC_KEYS')).toThrow(CodecKeyError);
  });

  it('reads CODEC_KEYS before the key file; no key means no codec', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'codec-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, `${generateKeyEntry('file-key')}\n`);
    const codec = codecFromConfig({ CODEC_KEYS: generateKeyEntry('env-key'), CODEC_KEY_FILE: file, CODEC_ENCRYPT_KEY_ID: undefined });
    expect(codec?.keyIds).toEqual(['env-key', 'file-key']);
    expect(codec?.encryptKeyId).toBe('env-key');
    expect(codecFromConfig({ CODEC_KEYS: undefined, CODEC_KEY_FILE: file, CODEC_ENCRYPT_KEY_ID: 'file-key' })?.encryptKeyId).toBe('file-key');
    expect(codecFromConfig({ CODEC_KEYS: undefined, CODEC_KEY_FILE: undefined, CODEC_ENCRYPT_KEY_ID: undefined })).toBeUndefined();
    expect(() => codecFromConfig({ CODEC_KEYS: undefined, CODEC_KEY_FILE: path.join(dir, 'missing'), CODEC_ENCRYPT_KEY_ID: undefined })).toThrow(/cannot be read/);
  });
});

describe('codec server JSON form', () => {
  it('round-trips a payload through base64 JSON', () => {
    expect(payloadFromJson(payloadToJson(input))).toEqual({ metadata: input.metadata, data: input.data });
  });
});
