import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { findPrincipal, type Principal } from './api-keys';
import { HttpProblem } from './problem';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const isPublic = (request: FastifyRequest): boolean =>
  (request.routeOptions.config as { public?: boolean } | undefined)?.public === true ||
  // No route: the answer is 404 or 405, which tell nothing /openapi.json does not.
  request.is404 ||
  // The interactive docs (and their assets) are readable without a key; every call they make needs one.
  request.url === '/docs' ||
  request.url.startsWith('/docs/');

// Keys are looked up once per CACHE_TTL_MS, not on every request: a revoked key stops working within it.
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/** Bearer-token authentication: every route needs a key unless it is public. */
export function authenticate(db: Knex) {
  const cache = new Map<string, { principal: Principal | undefined; until: number }>();
  const lookup = async (token: string): Promise<Principal | undefined> => {
    const now = Date.now();
    const hit = cache.get(token);
    if (hit && hit.until > now) return hit.principal;
    const principal = await findPrincipal(db, token);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(token, { principal, until: now + CACHE_TTL_MS });
    return principal;
  };
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (isPublic(request)) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new HttpProblem(401, 'Send an API key as "Authorization: Bearer <token>".', {}, { 'www-authenticate': 'Bearer' });
    }
    const principal = await lookup(match[1]);
    if (!principal) throw new HttpProblem(401, 'The API key is unknown or revoked.', {}, { 'www-authenticate': 'Bearer' });
    request.principal = principal;
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new HttpProblem(401, 'Not authenticated.');
  return request.principal;
}

export function requireOperator(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.role !== 'operator') throw new HttpProblem(403, 'Only operators may do this.');
  return principal;
}

/** Customers reach only their own orders; another customer's order answers 404, as if absent. */
export function assertCanSee(principal: Principal, customerId: string | null | undefined): void {
  if (principal.role === 'operator') return;
  if (!customerId || customerId !== principal.customerId) throw new HttpProblem(404, 'Order was not found.');
}
