import { request, type IncomingHttpHeaders } from 'node:http';

export interface Reply<J = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON; `J` unless the call names another type. */
  json<T = J>(): T;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * One request with node:http, read whole; fails after 15 s without an answer. Unlike fetch(),
 * it sends any Host and header as given, never follows redirects, and sends the request
 * target exactly as given: fetch() would normalise it (`/a/../b`, `%2e`) or refuse it
 * (absolute form), and such raw targets are what path rules are tested with. `target` is
 * therefore not resolved against `base` (only its host and port are used): pass an
 * origin-relative path such as `/x?y=1`, or a raw target.
 */
export function send<J = unknown>(base: string, target: string, opts: SendOptions = {}): Promise<Reply<J>> {
  const { hostname, port } = new URL(base);
  // URL keeps the brackets of an IPv6 literal; node:http wants the bare address.
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const method = opts.method ?? 'GET';
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path: target, headers: opts.headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${target} within 15 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
