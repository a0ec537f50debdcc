import { test, expect } from '@playwright/test';
import {
  formatReplaySrc,
  isReplayContentType,
  parseDuration,
  parseReplayHeader,
  parseReplayJson,
  ReplayParseError,
  type ReplayErrorCode,
} from '../../fixtures/fly-proxy/replay.js';

function errorOf(fn: () => unknown): ReplayParseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ReplayParseError);
    return err as ReplayParseError;
  }
  throw new Error('expected a ReplayParseError, nothing was thrown');
}

function expectCode(fn: () => unknown, code: ReplayErrorCode, field?: string): void {
  const err = errorOf(fn);
  expect(err.code).toBe(code);
  if (field !== undefined) expect(err.field).toBe(field);
}

test.describe('parseReplayHeader', () => {
  test('reads every field', () => {
    expect(
      parseReplayHeader(
        'app=pdf;region=ams;instance=m1;prefer_instance=m2;state=job-42;elsewhere=true;timeout=2s;fallback=prefer_self',
      ),
    ).toEqual({
      app: 'pdf',
      region: 'ams',
      instance: 'm1',
      preferInstance: 'm2',
      state: 'job-42',
      elsewhere: true,
      timeoutMs: 2000,
      fallback: 'prefer_self',
    });
  });

  test('a single field is enough', () => {
    expect(parseReplayHeader('app=pdf')).toEqual({ app: 'pdf', elsewhere: false });
    expect(parseReplayHeader('elsewhere=true;state=abc')).toEqual({ elsewhere: true, state: 'abc' });
    expect(parseReplayHeader('region=fra')).toEqual({ region: 'fra', elsewhere: false });
  });

  test('tolerates whitespace, empty segments and upper-case keys', () => {
    expect(parseReplayHeader('  app = pdf ;; REGION=ams ;  ')).toEqual({ app: 'pdf', region: 'ams', elsewhere: false });
    expect(parseReplayHeader('elsewhere=TRUE')).toEqual({ elsewhere: true });
  });

  test('state keeps "=" and inner spaces', () => {
    expect(parseReplayHeader('app=a;state=eyJ4IjoxfQ==').state).toBe('eyJ4IjoxfQ==');
    expect(parseReplayHeader('app=a;state=a b').state).toBe('a b');
  });

  test('ignores unknown keys (Fly adds fields over time)', () => {
    expect(parseReplayHeader('app=pdf;future_thing=1')).toEqual({ app: 'pdf', elsewhere: false });
  });

  test('accepts an array of header values', () => {
    expect(parseReplayHeader(['app=pdf', 'state=s'])).toEqual({ app: 'pdf', state: 's', elsewhere: false });
  });

  test('empty or missing → empty', () => {
    expectCode(() => parseReplayHeader(''), 'empty');
    expectCode(() => parseReplayHeader('   '), 'empty');
    expectCode(() => parseReplayHeader(undefined), 'empty');
  });

  test('garbage → syntax', () => {
    expectCode(() => parseReplayHeader('hello'), 'syntax');
    expectCode(() => parseReplayHeader('app=pdf;oops'), 'syntax');
    expectCode(() => parseReplayHeader('=pdf'), 'syntax');
  });

  test('only ;-separators and blanks → no target', () => {
    expectCode(() => parseReplayHeader(';;'), 'no_target');
  });

  test('bad values are rejected with the field named', () => {
    expectCode(() => parseReplayHeader('app='), 'invalid_field', 'app');
    expectCode(() => parseReplayHeader('app=a b'), 'invalid_field', 'app');
    expectCode(() => parseReplayHeader('app=pdf,region=x'), 'invalid_field', 'app');
    expectCode(() => parseReplayHeader('instance=m1\r\nx-evil: 1'), 'invalid_field', 'instance');
    expectCode(() => parseReplayHeader('elsewhere=yes'), 'invalid_field', 'elsewhere');
    expectCode(() => parseReplayHeader('app=a;timeout=soon'), 'invalid_field', 'timeout');
    expectCode(() => parseReplayHeader('app=a;timeout=0s'), 'invalid_field', 'timeout');
    expectCode(() => parseReplayHeader('app=a;fallback=other'), 'invalid_field', 'fallback');
    expectCode(() => parseReplayHeader(`app=a;state=${'x'.repeat(5000)}`), 'invalid_field', 'state');
    expectCode(() => parseReplayHeader('app=a;state=caf\u00e9'), 'invalid_field', 'state');
  });

  test('duplicate keys are an error, not silently last-wins', () => {
    expectCode(() => parseReplayHeader('app=a;app=b'), 'duplicate_field', 'app');
  });

  test('state alone or elsewhere=false alone names no target', () => {
    expectCode(() => parseReplayHeader('state=x'), 'no_target');
    expectCode(() => parseReplayHeader('elsewhere=false'), 'no_target');
  });
});

test.describe('parseReplayJson', () => {
  test('reads every field, including transform', () => {
    const body = JSON.stringify({
      app: 'pdf',
      region: 'ams',
      instance: 'm1',
      prefer_instance: 'm2',
      state: 's1',
      elsewhere: true,
      timeout: '1m30s',
      fallback: 'force_self',
      transform: {
        set_headers: [{ name: 'X-Replayed-By', value: 'main' }],
        delete_headers: ['Cookie', 'x-secret'],
      },
    });
    expect(parseReplayJson(body)).toEqual({
      app: 'pdf',
      region: 'ams',
      instance: 'm1',
      preferInstance: 'm2',
      state: 's1',
      elsewhere: true,
      timeoutMs: 90_000,
      fallback: 'force_self',
      transform: { setHeaders: [{ name: 'x-replayed-by', value: 'main' }], deleteHeaders: ['cookie', 'x-secret'] },
    });
  });

  test('accepts bytes and minimal bodies; null fields count as absent', () => {
    expect(parseReplayJson(new TextEncoder().encode('{"app":"pdf"}'))).toEqual({ app: 'pdf', elsewhere: false });
    expect(parseReplayJson('{"app":"pdf","region":null,"transform":{"set_headers":null}}')).toEqual({
      app: 'pdf',
      elsewhere: false,
      transform: { setHeaders: [], deleteHeaders: [] },
    });
  });

  test('invalid JSON and non-objects', () => {
    expectCode(() => parseReplayJson(''), 'empty');
    expectCode(() => parseReplayJson('{"app":'), 'invalid_json');
    expectCode(() => parseReplayJson('app=pdf'), 'invalid_json');
    expectCode(() => parseReplayJson('[]'), 'invalid_json');
    expectCode(() => parseReplayJson('null'), 'invalid_json');
    expectCode(() => parseReplayJson('"pdf"'), 'invalid_json');
  });

  test('wrong types are rejected with the field named', () => {
    expectCode(() => parseReplayJson('{"app":42}'), 'invalid_field', 'app');
    expectCode(() => parseReplayJson('{"app":""}'), 'invalid_field', 'app');
    expectCode(() => parseReplayJson('{"app":["pdf"]}'), 'invalid_field', 'app');
    expectCode(() => parseReplayJson('{"app":"pdf","elsewhere":"true"}'), 'invalid_field', 'elsewhere');
    expectCode(() => parseReplayJson('{"app":"pdf","timeout":5}'), 'invalid_field', 'timeout');
    expectCode(() => parseReplayJson('{"app":"pdf","state":{"a":1}}'), 'invalid_field', 'state');
    expectCode(() => parseReplayJson('{"app":"pdf","state":"a;b"}'), 'invalid_field', 'state');
    expectCode(() => parseReplayJson('{"app":"pdf","transform":[]}'), 'invalid_field', 'transform');
    expectCode(
      () => parseReplayJson('{"app":"pdf","transform":{"set_headers":{}}}'),
      'invalid_field',
      'transform.set_headers',
    );
    expectCode(
      () => parseReplayJson('{"app":"pdf","transform":{"set_headers":[{"name":"x"}]}}'),
      'invalid_field',
      'transform.set_headers',
    );
    expectCode(
      () => parseReplayJson('{"app":"pdf","transform":{"set_headers":[{"name":"bad name","value":"v"}]}}'),
      'invalid_field',
      'transform.set_headers',
    );
    expectCode(
      () =>
        parseReplayJson(
          JSON.stringify({ app: 'pdf', transform: { set_headers: [{ name: 'x', value: 'a\r\nInjected: 1' }] } }),
        ),
      'invalid_field',
      'transform.set_headers',
    );
    expectCode(
      () => parseReplayJson('{"app":"pdf","transform":{"delete_headers":"cookie"}}'),
      'invalid_field',
      'transform.delete_headers',
    );
    expectCode(
      () => parseReplayJson('{"app":"pdf","transform":{"delete_headers":[1]}}'),
      'invalid_field',
      'transform.delete_headers',
    );
  });

  test('an object without target → no_target', () => {
    expectCode(() => parseReplayJson('{}'), 'no_target');
    expectCode(() => parseReplayJson('{"state":"x","elsewhere":false}'), 'no_target');
  });

  test('never throws anything but ReplayParseError on hostile input', () => {
    const inputs = [
      '{"__proto__":{"app":"x"}}',
      '{"app":"pdf","transform":{"set_headers":[null]}}',
      '\u0000',
      '{"a":'.repeat(1000),
      '1e999',
    ];
    for (const input of inputs) {
      try {
        parseReplayJson(input);
      } catch (err) {
        expect(err).toBeInstanceOf(ReplayParseError);
      }
    }
  });
});

test('isReplayContentType ignores case and parameters', () => {
  expect(isReplayContentType('application/vnd.fly.replay+json')).toBe(true);
  expect(isReplayContentType('Application/VND.fly.replay+JSON; charset=utf-8')).toBe(true);
  expect(isReplayContentType('application/json')).toBe(false);
  expect(isReplayContentType(undefined)).toBe(false);
});

test('parseDuration understands Go-style durations', () => {
  expect(parseDuration('800ms')).toBe(800);
  expect(parseDuration('5s')).toBe(5000);
  expect(parseDuration('1.5s')).toBe(1500);
  expect(parseDuration('1h2m3s')).toBe(3_723_000);
  for (const bad of ['', '5', 's', '5 s', '-1s', '5d', '1.2.3s'])
    expectCode(() => parseDuration(bad), 'invalid_field', 'timeout');
});

test.describe('formatReplaySrc', () => {
  test('formats instance, region, t and state', () => {
    expect(formatReplaySrc({ instance: 'main-1', region: 'lcl', t: 1_700_000_000_000_000, state: 'abc=' })).toBe(
      'instance=main-1;region=lcl;t=1700000000000000;state=abc=',
    );
  });

  test('omits state when absent', () => {
    expect(formatReplaySrc({ instance: 'm', region: 'r', t: 5 })).toBe('instance=m;region=r;t=5');
  });

  test('t defaults to now in microseconds', () => {
    const before = Date.now() * 1000;
    const t = Number(/;t=(\d+)/.exec(formatReplaySrc({ instance: 'm', region: 'r' }))![1]);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now() * 1000);
  });

  test('refuses values that would break the header', () => {
    expect(() => formatReplaySrc({ instance: 'a;b', region: 'r' })).toThrow(TypeError);
    expect(() => formatReplaySrc({ instance: 'a', region: 'r\n' })).toThrow(TypeError);
    expect(() => formatReplaySrc({ instance: 'a', region: 'r', state: 'x;y' })).toThrow(TypeError);
    expect(() => formatReplaySrc({ instance: 'a', region: 'r', t: 1.5 })).toThrow(TypeError);
  });

  test('round-trips through the header parser state rules', () => {
    const state = parseReplayHeader('app=a;state=k=v,w').state!;
    expect(formatReplaySrc({ instance: 'm', region: 'r', t: 1, state })).toBe('instance=m;region=r;t=1;state=k=v,w');
  });
});
