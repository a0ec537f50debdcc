import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Credentials must never reach a log line. Redaction covers the places they could appear as
 * structured fields; URLs are logged without their query string by the callers (a query can
 * carry a token), and header objects are never logged whole.
 */
const REDACT = [
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'headers["proxy-authorization"]',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["set-cookie"]',
  'cookie',
  'authorization',
  'secret',
  'token',
  '*.token',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'pdf-appliance' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination as pino.DestinationStream | undefined,
  );
}

/** A URL as it may appear in logs: origin and path, no query, no userinfo. */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === 'data:' ? 'data:…' : `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}
