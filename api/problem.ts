import type { FastifyReply } from 'fastify';

/** An RFC 9457 problem: every error the API answers with has this shape. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** The domain's stable error code, for 422s. */
  code?: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error a route throws to answer with a specific problem. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export const notFound = (what: string): HttpProblem => new HttpProblem(404, `${what} was not found.`);

export function problem(status: number, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return {
    type: extensions.code ? `https://orders-on-temporal.dev/problems/${String(extensions.code).toLowerCase()}` : 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...extensions,
  };
}

export function sendProblem(reply: FastifyReply, body: Problem, headers: Record<string, string> = {}): FastifyReply {
  return reply.status(body.status).headers(headers).type('application/problem+json').send(body);
}
