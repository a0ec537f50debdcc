/*
 * What the page says about its own rendering: `<meta>` tags (`pdf-*`, `image-*`, author,
 * description, keywords), its <title>, its header/footer templates. Collected in one
 * evaluation after load; the print and image plans read them through a MetaReader, which
 * turns a bad value into a warning for the log (the next level, the environment's default,
 * applies) rather than a failed render.
 */

export interface RawPageHints {
  /** Lower-cased meta names (`pdf-*`, `image-*`, author, description, keywords) → raw content; first tag wins. */
  meta: Record<string, string>;
  title: string;
  header?: string;
  footer?: string;
  /** Selector options the page's own DOM rejects as CSS selectors → the browser's message. */
  selectorErrors: Record<string, string>;
}

/** A page option that was ignored, for the log. */
export interface Warning {
  option: string;
  value: string;
  reason: string;
}

/** Options whose value is a CSS selector: only the browser can tell whether it parses. */
const SELECTOR_OPTIONS = ['pdf-wait-for', 'image-selector'];

/**
 * Runs inside the page via Runtime.evaluate, which ships only this function's source text:
 * it must not use imports, module-level helpers or anything compiled into a helper call.
 */
export function collectPageHints(selectorOptions: string[]): RawPageHints {
  const meta: Record<string, string> = {};
  const wanted = (name: string): boolean =>
    name.startsWith('pdf-') ||
    name.startsWith('image-') ||
    name === 'author' ||
    name === 'description' ||
    name === 'keywords';
  for (const el of Array.from(document.querySelectorAll('meta[name]'))) {
    const name = (el.getAttribute('name') ?? '').trim().toLowerCase();
    if (!wanted(name) || Object.prototype.hasOwnProperty.call(meta, name)) continue;
    meta[name] = el.getAttribute('content') ?? '';
  }
  const template = (id: string): string | undefined => {
    const el = document.getElementById(id);
    return el instanceof HTMLTemplateElement ? el.innerHTML : undefined;
  };
  const hints: RawPageHints = { meta, title: document.title, selectorErrors: {} };
  const header = template('pdf-header');
  const footer = template('pdf-footer');
  if (header !== undefined) hints.header = header;
  if (footer !== undefined) hints.footer = footer;
  // Checking here keeps a typo from turning into a wait that fails or hangs.
  for (const option of selectorOptions) {
    const selector = meta[option];
    if (selector === undefined || selector.trim() === '') continue;
    try {
      document.querySelector(selector.trim());
    } catch (err) {
      hints.selectorErrors[option] = err instanceof Error ? err.message : String(err);
    }
  }
  return hints;
}

/** The expression that collects the hints in the page. */
export const COLLECT_PAGE_HINTS = `(${collectPageHints.toString()})(${JSON.stringify(SELECTOR_OPTIONS)})`;

const MAX_SELECTOR_LENGTH = 1000;

/** Reads one family of options (`pdf-`, `image-`) from the hints, collecting warnings. */
export class MetaReader {
  readonly warnings: Warning[] = [];

  constructor(
    private readonly hints: RawPageHints,
    private readonly prefix: string,
    known: readonly string[],
  ) {
    for (const name of Object.keys(hints.meta)) {
      if (name.startsWith(prefix) && !known.includes(name)) this.warn(name, hints.meta[name] ?? '', 'unknown option');
    }
  }

  warn(option: string, value: string, reason: string): void {
    this.warnings.push({ option, value, reason });
  }

  /** The trimmed value, or undefined when absent; an empty value of our own family is a warning. */
  read(name: string): string | undefined {
    const meta = this.hints.meta;
    if (!Object.prototype.hasOwnProperty.call(meta, name)) return undefined;
    const v = (meta[name] ?? '').trim();
    if (v === '') {
      if (name.startsWith(this.prefix)) this.warn(name, v, 'empty value');
      return undefined;
    }
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.read(name);
    if (v === undefined) return fallback;
    const b = parseBoolean(v);
    if (b === null) {
      this.warn(name, v, 'expected true or false');
      return fallback;
    }
    return b;
  }

  /** A number in [min, max] (`integer`: whole numbers only), else the fallback and a warning. */
  number(name: string, fallback: number, min: number, max: number, integer = false): number {
    const v = this.read(name);
    if (v === undefined) return fallback;
    const n = parseNumber(v, min, max, integer);
    if (n === null) {
      this.warn(name, v, `expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  /** A CSS selector the page's DOM accepted, of sane length. */
  selector(name: string): string | undefined {
    const v = this.read(name);
    if (v === undefined) return undefined;
    const error = this.hints.selectorErrors[name];
    if (error !== undefined) {
      this.warn(name, v, `not a valid CSS selector: ${error}`);
      return undefined;
    }
    if (v.length > MAX_SELECTOR_LENGTH || /[\u0000-\u001f\u007f]/.test(v)) {
      this.warn(name, v.slice(0, 100), 'selector too long or contains control characters');
      return undefined;
    }
    return v;
  }
}

export function parseBoolean(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

const DECIMAL = /^(\d+(?:\.\d+)?|\.\d+)$/;

/** A plain decimal (no sign, exponent or hex) within [min, max]. */
export function parseNumber(value: string, min: number, max: number, integer = false): number | null {
  const v = value.trim();
  if (!DECIMAL.test(v)) return null;
  const n = Number(v);
  if (integer && !Number.isInteger(n)) return null;
  return n >= min && n <= max ? n : null;
}
