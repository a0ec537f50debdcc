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
 * One request with node:http (which, unlike fetch(), sends any Host and header as given and
 * never follows redirects), read whole; fails after 15 s without an answer.
 */
export function send<J = unknown>(base: string, path: string, opts: SendOptions = {}): Promise<Reply<J>> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method: opts.method ?? 'GET', headers: opts.headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode!, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
