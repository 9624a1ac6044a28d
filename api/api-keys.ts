import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

export type Role = 'customer' | 'operator';

export interface Principal {
  keyId: string;
  role: Role;
  /** Set for customers: the only customer whose orders they may see and change. */
  customerId: string | null;
}

const PREFIX = 'oot_';

const hash = (token: string): Buffer => createHash('sha256').update(token).digest();

/** Mints a key; the token is returned once and only its hash is stored. */
export async function createApiKey(
  db: Knex,
  options: { role: Role; customerId?: string; label: string },
): Promise<{ keyId: string; token: string }> {
  const keyId = randomBytes(6).toString('hex');
  const token = `${PREFIX}${keyId}_${randomBytes(24).toString('base64url')}`;
  await db('api_keys').insert({
    key_id: keyId,
    key_hash: hash(token),
    role: options.role,
    customer_id: options.role === 'customer' ? options.customerId : null,
    label: options.label,
  });
  return { keyId, token };
}

/** The principal a bearer token stands for, or undefined for an unknown or revoked token. */
export async function findPrincipal(db: Knex, token: string): Promise<Principal | undefined> {
  if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
  const row = await db('api_keys')
    .where({ key_hash: hash(token) })
    .whereNull('revoked_at')
    .first<{ key_id: string; role: Role; customer_id: string | null } | undefined>('key_id', 'role', 'customer_id');
  return row ? { keyId: row.key_id, role: row.role, customerId: row.customer_id } : undefined;
}
