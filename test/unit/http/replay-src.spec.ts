import { test, expect } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { BounceMarks, MAX_BOUNCES, parseReplaySrc, readBounce } from '../../../src/http/replay-src.js';

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
  expect(parseReplaySrc('instance=fdaa:0:1::3;region=lcl.dev-1_a')).toEqual({
    instance: 'fdaa:0:1::3',
    region: 'lcl.dev-1_a',
  });
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

test.describe('bounce marks', () => {
  const REQ = 'GET /invoices/42.pdf';

  test('readBounce: our state, with or without a pin and marks; anything else is not ours', () => {
    expect(readBounce('pdf-bounced')).toEqual({ pin: undefined, marks: [] });
    expect(readBounce('pdf-bounced:main-a1')).toEqual({ pin: 'main-a1', marks: [] });
    expect(readBounce('pdf-bounced::AAAAAAAAAAAAAAAAAAAAAA')).toEqual({
      pin: undefined,
      marks: ['AAAAAAAAAAAAAAAAAAAAAA'],
    });
    expect(readBounce('pdf-bounced:m1:AAAAAAAAAAAAAAAAAAAAAA.bad.BBBBBBBBBBBBBBBBBBBBBB')).toEqual({
      pin: 'm1',
      marks: ['AAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBB'],
    });
    expect(readBounce('pdf-bounced:bad pin:')).toEqual({ pin: undefined, marks: [] });
    expect(readBounce(undefined)).toBeNull();
    expect(readBounce('invoice-42')).toBeNull();
    expect(readBounce('pdf-bouncedX')).toBeNull();
  });

  test('a process recognises its own bounce of a request, and nothing else', () => {
    const here = new BounceMarks();
    const state = here.state(REQ, 'main-a1', null);
    expect(state).toMatch(/^pdf-bounced:main-a1:[A-Za-z0-9_-]{22}$/);
    expect(here.mayBounce(REQ, readBounce(state))).toBe(false);
    // The same mark on another request, or with another pin, is not a bounce of this one.
    expect(here.mayBounce('GET /invoices/43.pdf', readBounce(state))).toBe(true);
    expect(here.mayBounce(REQ, readBounce(state.replace('main-a1', 'main-b1')))).toBe(true);
    // What a client can write: the bare word, a pin, marks it made up.
    for (const forged of ['pdf-bounced', 'pdf-bounced:main-a1', `pdf-bounced:main-a1:${'A'.repeat(22)}`]) {
      expect(here.mayBounce(REQ, readBounce(forged)), forged).toBe(true);
    }
  });

  test("another process's mark is carried on, and each process bounces a request once", () => {
    const a = new BounceMarks(randomBytes(32));
    const b = new BounceMarks(randomBytes(32));
    const fromA = readBounce(a.state(REQ, 'main-a1', null));
    expect(b.mayBounce(REQ, fromA)).toBe(true);
    const fromB = readBounce(b.state(REQ, fromA!.pin, fromA));
    expect(fromB!.pin).toBe('main-a1');
    expect(fromB!.marks).toHaveLength(2);
    expect(fromB!.marks[0]).toBe(fromA!.marks[0]);
    expect(a.mayBounce(REQ, fromB)).toBe(false);
    expect(b.mayBounce(REQ, fromB)).toBe(false);
  });

  test(`a chain of ${MAX_BOUNCES} marks is not extended`, () => {
    let bounce = null;
    for (let i = 0; i < MAX_BOUNCES; i++) bounce = readBounce(new BounceMarks().state(REQ, 'm', bounce));
    expect(bounce!.marks).toHaveLength(MAX_BOUNCES);
    expect(new BounceMarks().mayBounce(REQ, bounce)).toBe(false);
  });
});
