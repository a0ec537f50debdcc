import { parseDuration } from './duration.js';
import { parseNumber } from '../render/page-hints.js';

/** A start-up error: one line that names the variable, never its secret value. */
export class ConfigError extends Error {}

/** Stops the start: `NAME="value" is invalid: expected <accepted>`. */
export type Fail = (accepted: string) => never;

/**
 * How one variable is read. `raw` is the trimmed value, undefined when unset or empty. `shown`
 * is the default as docs/settings.md prints it, when the parser knows it; a setting whose
 * default derives from others says it in words instead.
 */
export interface Parser<T> {
  parse(raw: string | undefined, fail: Fail): T;
  shown?: string;
}

const code = (v: string | number | boolean): string => `\`${v}\``;

/** A whole number in [min, max]; `def` null means the default derives from other settings. */
export function int<D extends number | null>(min: number, max: number, def: D): Parser<number | D> {
  return {
    parse(raw, fail) {
      if (raw === undefined) return def;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < min || n > max) fail(`an integer from ${min} to ${max}`);
      return n;
    },
    ...(def === null ? {} : { shown: code(def) }),
  };
}

/** A decimal number in [min, max], as pages write them (`0.75`, `2`). */
export function decimal(limits: { min: number; max: number }, def: number): Parser<number> {
  const { min, max } = limits;
  return {
    parse: (raw, fail) =>
      raw === undefined ? def : (parseNumber(raw, min, max) ?? fail(`a number from ${min} to ${max}`)),
    shown: code(def),
  };
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

export function bool(def: boolean): Parser<boolean> {
  return {
    parse(raw, fail) {
      const v = raw?.toLowerCase();
      if (v === undefined) return def;
      if (TRUE.includes(v)) return true;
      if (FALSE.includes(v)) return false;
      return fail('true or false');
    },
    shown: code(def),
  };
}

const UNIT_NAMES = { ms: 'milliseconds', s: 'seconds', m: 'minutes' } as const;

/**
 * Milliseconds from `250ms`, `90s`, `15m`, `1h`, or a bare number in `bare`; 0 always passes
 * (it means "never" or "at once" where a setting allows it), anything else must reach `min`.
 */
export function duration(def: string, bare: 'ms' | 's' | 'm', min: number): Parser<number> {
  return {
    parse(raw, fail) {
      const ms = parseDuration(raw ?? def, bare);
      if (ms === null || (ms !== 0 && ms < min)) {
        return fail(`a duration like 90s, 15m, 1h (a bare number means ${UNIT_NAMES[bare]})`);
      }
      return ms;
    },
    shown: code(def),
  };
}

/** One of `values`, in any case. */
export function oneOf<T extends string>(values: readonly T[], def: T, accepted = values.join(', ')): Parser<T> {
  return {
    parse(raw, fail) {
      const v = (raw ?? def).toLowerCase();
      return values.find((x) => x === v) ?? fail(accepted);
    },
    shown: code(def),
  };
}

/** Text as given; `def` null means unset. */
export function text<D extends string | null>(def: D, check?: (v: string, fail: Fail) => void): Parser<string | D> {
  return {
    parse(raw, fail) {
      if (raw === undefined) return def;
      check?.(raw, fail);
      return raw;
    },
    shown: def === null ? 'none' : code(def),
  };
}

/** A comma-separated list, each item through `item`; unset is empty. */
export function list<T>(item: (v: string, fail: Fail) => T): Parser<T[]> {
  return {
    parse: (raw, fail) =>
      (raw ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => item(s, fail)),
    shown: 'none',
  };
}

/** Anything else: a parser written for one setting. */
export function custom<T>(parse: (raw: string | undefined, fail: Fail) => T): Parser<T> {
  return { parse };
}
