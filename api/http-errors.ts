import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problem, sendProblem } from './problem';
import { PROBLEM_CONTENT_TYPE } from './schemas';

/**
 * The answers Fastify and Node would otherwise write in their own JSON: unknown routes (404), known
 * paths with a method they do not take (405 with Allow), malformed or overlong URLs (400, 414), and the
 * errors Node's HTTP parser meets before any route runs (400, 408, 431). All are problem+json.
 */

interface RouteShape {
  regex: RegExp;
  methods: Set<string>;
}

const toRegex = (url: string): RegExp =>
  new RegExp(
    `^${url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}/?$`,
  );

/** Records every route as it is added, to answer which methods a path takes. */
export class RouteMethods {
  private readonly routes = new Map<string, RouteShape>();

  /** Call before any route is added. */
  track(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const shape = this.routes.get(route.url) ?? { regex: toRegex(route.url), methods: new Set<string>() };
      for (const method of methods) shape.methods.add(method.toUpperCase());
      this.routes.set(route.url, shape);
    });
  }

  /** The methods the path takes, sorted; empty when no route has that path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const shape of this.routes.values()) {
      if (shape.regex.test(path)) for (const m of shape.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}

const pathOf = (url: string): string => url.split('?')[0] ?? url;

/** The not-found handler: 405 with Allow when the path exists under other methods, 204 for OPTIONS, else 404. */
export function notFoundOrNotAllowed(routes: RouteMethods) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = pathOf(request.url);
    const allowed = routes.allowed(path);
    if (allowed.length === 0) return sendProblem(reply, { ...problem(404, `No route ${request.method} ${path}.`), instance: path });
    const allow = allowed.join(', ');
    if (request.method === 'OPTIONS') return reply.status(204).header('allow', allow).send();
    return sendProblem(reply, { ...problem(405, `${request.method} is not allowed on ${path}; allowed: ${allow}.`), instance: path }, { allow });
  };
}

/** For Fastify's frameworkErrors: a malformed URL (400) or an overlong path segment (414). */
export function frameworkErrors(error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
  const detail = status === 414 ? 'A path segment is longer than the API accepts.' : 'The URL is malformed.';
  void sendProblem(reply, { ...problem(status, detail), instance: pathOf(request.url) });
}

/**
 * For Fastify's clientErrorHandler: what Node's parser refuses, answered before the socket closes.
 * An unknown method on a known path is a 405 like any other.
 */
export function clientErrorHandler(routes: RouteMethods) {
  return (err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
      socket.destroy(err);
      return;
    }
    let status = 400;
    let detail = 'The request is not valid HTTP.';
    const headers: Record<string, string> = {};
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      detail = 'The request headers are larger than the API accepts.';
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      detail = 'The request took too long to arrive.';
    } else if (err.code === 'HPE_INVALID_METHOD') {
      const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\/\S*) HTTP\/1\.[01]\r?\n/.exec(Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : '');
      const allowed = line ? routes.allowed(pathOf(line[2]!)) : [];
      if (line && allowed.length > 0) {
        status = 405;
        detail = `${line[1]} is not allowed on ${pathOf(line[2]!)}; allowed: ${allowed.join(', ')}.`;
        headers.allow = allowed.join(', ');
      }
    }
    const body = JSON.stringify(problem(status, detail));
    const head = [
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
      `content-type: ${PROBLEM_CONTENT_TYPE}`,
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  };
}
