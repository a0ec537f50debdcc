/**
 * Whether an `Accept` header prefers `text/html` to `text/plain`: a browser does, a program
 * (curl, fetch, a main app's client) does not. The better match wins by quality, then by how
 * specifically the header names it (`text/html` over `text/*` over any type), then by where the
 * header names it; a tie, no header, or neither acceptable, is plain text.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const html = bestMatch(ranges, 'text', 'html');
  const plain = bestMatch(ranges, 'text', 'plain');
  if (!html) return false;
  if (!plain) return true;
  if (html.q !== plain.q) return html.q > plain.q;
  if (html.specificity !== plain.specificity) return html.specificity > plain.specificity;
  return html.index < plain.index;
}

interface Range {
  type: string;
  subtype: string;
  q: number;
  index: number;
}

interface Match {
  q: number;
  specificity: number;
  index: number;
}

function parseAccept(header: string): Range[] {
  const ranges: Range[] = [];
  header.split(',').forEach((part, index) => {
    const [media = '', ...params] = part.split(';').map((p) => p.trim());
    const m = /^([\w.+*-]+)\/([\w.+*-]+)$/.exec(media.toLowerCase());
    if (!m) return;
    let q = 1;
    for (const p of params) {
      const qm = /^q\s*=\s*([0-9.]+)$/i.exec(p);
      if (qm) q = Math.min(1, Number(qm[1]) || 0);
    }
    ranges.push({ type: m[1]!, subtype: m[2]!, q, index });
  });
  return ranges;
}

/** The range that names `type/subtype` most specifically (then with the highest quality); null when none accepts it. */
function bestMatch(ranges: Range[], type: string, subtype: string): Match | null {
  let best: Match | null = null;
  for (const r of ranges) {
    const typeOk = r.type === type || r.type === '*';
    const subOk = r.subtype === subtype || r.subtype === '*';
    if (!typeOk || !subOk) continue;
    const specificity = (r.type === type ? 2 : 0) + (r.subtype === subtype ? 1 : 0);
    if (!best || specificity > best.specificity || (specificity === best.specificity && r.q > best.q))
      best = { q: r.q, specificity, index: r.index };
  }
  return best && best.q > 0 ? best : null;
}
