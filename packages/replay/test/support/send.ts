import { request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP request with the request target exactly as given. fetch() would normalise it
 * (`/a/../b`, `%2e`) or refuse it (absolute form), and those raw targets are what the path
 * rule is about. Bounded: a server that never answers fails the test instead of hanging it.
 */
export function send(baseUrl: string, target: string, opts: SendOptions = {}): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, method: opts.method ?? 'GET', path: target, headers: opts.headers, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${opts.method ?? 'GET'} ${target} within 5 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
