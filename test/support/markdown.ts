// Reads the project's markdown the way GitHub shows it: the links a reader can click and the
// anchors its headings get. Code (fenced blocks, `inline`) is not markup: a `[x](y)` or a `# …`
// inside it is neither a link nor a heading.

/** Lines outside fenced code blocks; those inside are replaced by empty lines (numbers kept). */
function prose(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1]![0]!.repeat(m[1]!.length);
      else if (m[1]!.startsWith(fence)) fence = null;
      return '';
    }
    return fence === null ? line : '';
  });
}

/** A line with its `code spans` removed, so that what they quote is not read as markup. */
function withoutCode(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, '');
}

export interface Link {
  target: string;
  /** 1-based line, for messages. */
  line: number;
}

/** Every inline link and image target, `[text](target)`, outside code. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  prose(markdown).forEach((line, i) => {
    for (const m of withoutCode(line).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      found.push({ target: m[1]!, line: i + 1 });
  });
  return found;
}

/** A link to another site or scheme (`https:`, `mailto:`, `//host`), not a file of this repository. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/**
 * The anchor GitHub gives a heading: its text as shown (links by their text, code without its
 * backticks, emphasis marks gone), lower-cased, every character that is not a letter, digit,
 * space, `-` or `_` dropped, spaces turned into hyphens.
 */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a document's headings, in order; a repeated one gets `-1`, `-2`, … as on GitHub. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
