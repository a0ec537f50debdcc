import { test, expect } from '@playwright/test';
import { parseReplaySrc } from '../../src/http/replay-src.js';

test('parses the header Fly sends', () => {
  expect(parseReplaySrc('instance=91857e31b72e83;region=ams;t=1700000000123456;state=invoice-42')).toEqual({
    instance: '91857e31b72e83',
    region: 'ams',
    t: 1_700_000_000_123_456,
    state: 'invoice-42',
  });
});

test('missing or empty header → empty object', () => {
  expect(parseReplaySrc(undefined)).toEqual({});
  expect(parseReplaySrc('')).toEqual({});
  expect(parseReplaySrc(';;;')).toEqual({});
});

test('fields are optional and order does not matter', () => {
  expect(parseReplaySrc('region=fra')).toEqual({ region: 'fra' });
  expect(parseReplaySrc('state=s;instance=m1')).toEqual({ state: 's', instance: 'm1' });
});

test('tolerates whitespace and key case', () => {
  expect(parseReplaySrc(' Instance = m1 ; REGION=lcl ;t= 42 ')).toEqual({ instance: 'm1', region: 'lcl', t: 42 });
});

test('state keeps everything after the first "="', () => {
  expect(parseReplaySrc('instance=m;state=eyJhIjoxfQ==').state).toBe('eyJhIjoxfQ==');
});

test('ignores junk segments and unknown keys', () => {
  expect(parseReplaySrc('garbage;=x;instance=m1;foo=bar;region')).toEqual({ instance: 'm1' });
});

test('rejects instance/region with characters that could leak into headers', () => {
  expect(parseReplaySrc('instance=m 1;region=ams')).toEqual({ region: 'ams' });
  expect(parseReplaySrc('instance=m1\r\nx-evil: 1;region=ams')).toEqual({ region: 'ams' });
  expect(parseReplaySrc('instance=m1,m2;region=a/b')).toEqual({});
  expect(parseReplaySrc('instance=caf\u00e9')).toEqual({});
  expect(parseReplaySrc('instance=fdaa:0:1::3;region=lcl.dev-1_a')).toEqual({ instance: 'fdaa:0:1::3', region: 'lcl.dev-1_a' });
});

test('t must be a non-negative safe integer', () => {
  expect(parseReplaySrc('t=-5')).toEqual({});
  expect(parseReplaySrc('t=1.5')).toEqual({});
  expect(parseReplaySrc('t=1e6')).toEqual({});
  expect(parseReplaySrc('t=abc')).toEqual({});
  expect(parseReplaySrc('t=99999999999999999999')).toEqual({});
  expect(parseReplaySrc('t=0')).toEqual({ t: 0 });
});

test('state with control characters is dropped', () => {
  expect(parseReplaySrc('state=a\u0000b;instance=m')).toEqual({ instance: 'm' });
});

test('first well-formed value wins when a key repeats', () => {
  expect(parseReplaySrc('instance=a;instance=b')).toEqual({ instance: 'a' });
  expect(parseReplaySrc('instance=bad value;instance=b')).toEqual({ instance: 'b' });
});

test('never throws on non-string input reaching it at runtime', () => {
  for (const v of [null, 42, {}, ['instance=m']] as unknown[]) {
    expect(parseReplaySrc(v as string | undefined)).toEqual({});
  }
});
