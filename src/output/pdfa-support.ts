// Finds the two things PDF/A output depends on outside Node: the Ghostscript executable and an
// sRGB ICC profile for the OutputIntent. Both are resolved when needed (not at import), so a
// process that never writes PDF/A never looks, and one that does can check once at start.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export class PdfAError extends Error {
  /**
   * @param reason what went wrong, for callers that map it to a status or a metric
   * @param detail Ghostscript's own output (tail), for the log only: it can quote document
   *   content and file paths, so it never goes into `message` or to a client.
   */
  constructor(
    message: string,
    readonly reason: 'unavailable' | 'not-a-pdf' | 'failed' | 'not-conformant',
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'PdfAError';
  }
}

/** The first executable `gs` on PATH, or null. */
export function findGhostscript(pathList: string | undefined = process.env.PATH): string | null {
  for (const dir of (pathList ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'gs');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/**
 * Where Ghostscript installs keep their sRGB profile: Debian/Ubuntu's libgs10-common puts it in
 * /usr/share/color/icc/ghostscript; an upstream `make install` (and some distributions) in
 * <prefix>/share/ghostscript/<version>/iccprofiles.
 */
function profileCandidates(): string[] {
  const found = ['/usr/share/color/icc/ghostscript/srgb.icc', '/usr/share/ghostscript/iccprofiles/srgb.icc'];
  for (const root of ['/usr/share/ghostscript', '/usr/local/share/ghostscript']) {
    let versions: string[] = [];
    try {
      versions = readdirSync(root).sort().reverse();
    } catch {
      continue;
    }
    for (const v of versions) found.push(join(root, v, 'iccprofiles', 'srgb.icc'));
  }
  return found;
}

/** The first installed profile that really is an sRGB display profile, or null. */
function findSrgbProfile(): string | null {
  for (const path of profileCandidates()) {
    try {
      if (isSrgbProfile(readFileSync(path))) return path;
    } catch {
      // missing or unreadable: try the next
    }
  }
  return null;
}

/**
 * Checks the ICC header (ICC.1, section 7.2) and description: RGB data colour space, the 'acsp'
 * signature, major version 2 or 4 (what PDF/A-2 and -3 accept), and "sRGB" in the description
 * (ASCII in version 2 'desc' tags, UTF-16BE in version 4 'mluc' ones). The OutputIntent we write
 * names sRGB IEC61966-2.1, so any other RGB profile would make that claim false.
 */
function isSrgbProfile(bytes: Uint8Array): boolean {
  if (bytes.length < 132) return false;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = b[8];
  return (
    b.readUInt32BE(0) === b.length &&
    b.toString('latin1', 36, 40) === 'acsp' &&
    b.toString('latin1', 16, 20) === 'RGB ' &&
    (major === 2 || major === 4) &&
    (b.includes('sRGB', 128, 'latin1') || b.includes(Buffer.from('\0s\0R\0G\0B', 'latin1'), 128))
  );
}

export interface PdfASupport {
  gsPath: string;
  gsVersion: string;
  iccProfile: string;
}

/**
 * Whether to read the input with Ghostscript's older, PostScript-based PDF interpreter
 * (-dNEWPDF=false) rather than its C one ("pdfi", the default since 10.0). Measured on 10.0.0
 * with Chromium's output, pdfi drops the high byte of ToUnicode bfrange targets above U+00FF
 * (the PDF/A's text layer reads "Aódz" for "Łódź") and spends ~0.5 s CPU per page of text
 * (CID fonts with a /W array); the older one gets the text right in a quarter of the time.
 * Upstream deprecates it, so only versions up to 10.0 use it: a newer Ghostscript runs pdfi,
 * and the integration tests (text identical before and after) tell whether that is fixed.
 */
export function usesLegacyInterpreter(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 10 || (major === 10 && minor === 0);
}

const versions = new Map<string, Promise<string>>();

// The default (no explicit path) results, once found: a conversion does not walk PATH or read
// the profile again. A failure is not remembered: the next call may find them installed.
let defaultGhostscript: string | undefined;
let defaultProfile: string | undefined;

/** `gs --version`, asked once per executable. */
export function ghostscriptVersion(gsPath: string): Promise<string> {
  let version = versions.get(gsPath);
  if (!version) {
    version = new Promise<string>((resolve, reject) => {
      execFile(gsPath, ['--version'], { env: {}, timeout: 5000, encoding: 'utf8' }, (err, stdout) => {
        if (err)
          reject(
            new PdfAError(`PDF/A output needs Ghostscript, but ${gsPath} --version failed`, 'unavailable', String(err)),
          );
        else resolve(stdout.trim());
      });
    });
    versions.set(gsPath, version);
    // A failure is not remembered: the next call may find Ghostscript installed.
    version.catch(() => versions.delete(gsPath));
  }
  return version;
}

/**
 * For start-up: everything PDF/A output needs is present and runs, or a PdfAError whose message
 * is the one line to print. Blocks for the few milliseconds `gs --version` takes. Always looks
 * afresh; what it finds is remembered for the conversions (see resolveGhostscript).
 */
export function checkPdfASupport(opts: { gsPath?: string; iccProfile?: string } = {}): PdfASupport {
  const gsPath = locateGhostscript(opts.gsPath);
  const iccProfile = locateProfile(opts.iccProfile);
  let gsVersion: string;
  try {
    // Empty environment: GS_OPTIONS and GS_LIB from ours must not change what gs does.
    gsVersion = execFileSync(gsPath, ['--version'], {
      env: {},
      timeout: 5000,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (err) {
    throw new PdfAError(`PDF/A output needs Ghostscript, but ${gsPath} --version failed`, 'unavailable', String(err));
  }
  if (opts.gsPath === undefined) defaultGhostscript = gsPath;
  if (opts.iccProfile === undefined) defaultProfile = iccProfile;
  // The first conversion need not ask `gs --version` again.
  versions.set(gsPath, Promise.resolve(gsVersion));
  return { gsPath, gsVersion, iccProfile };
}

/** The Ghostscript to run: `explicit` (checked on every call), else `gs` on PATH (found once). */
export function resolveGhostscript(explicit?: string): string {
  if (explicit !== undefined) return locateGhostscript(explicit);
  return (defaultGhostscript ??= locateGhostscript(undefined));
}

/** The sRGB profile to embed: `explicit` (checked on every call), else the installed one (found once). */
export function resolveProfile(explicit?: string): string {
  if (explicit !== undefined) return locateProfile(explicit);
  return (defaultProfile ??= locateProfile(undefined));
}

function locateGhostscript(explicit: string | undefined): string {
  const gs = explicit ?? findGhostscript();
  if (!gs)
    throw new PdfAError(
      'PDF/A output needs Ghostscript: no gs executable on PATH (Debian package ghostscript)',
      'unavailable',
    );
  try {
    accessSync(gs, constants.X_OK);
  } catch {
    throw new PdfAError(`PDF/A output needs Ghostscript: ${gs} is not an executable file`, 'unavailable');
  }
  return gs;
}

function locateProfile(explicit: string | undefined): string {
  if (explicit === undefined) {
    const found = findSrgbProfile();
    if (!found) {
      throw new PdfAError(
        'PDF/A output needs an sRGB ICC profile: none found in /usr/share/color/icc/ghostscript (Debian package libgs10-common)',
        'unavailable',
      );
    }
    return found;
  }
  // Ghostscript's --permit-file-read takes a ':'-separated list: such a path would be split.
  if (explicit.includes(delimiter))
    throw new PdfAError(`ICC profile path must not contain '${delimiter}': ${explicit}`, 'unavailable');
  let bytes: Buffer;
  try {
    bytes = readFileSync(explicit);
  } catch {
    throw new PdfAError(`PDF/A output needs an sRGB ICC profile: cannot read ${explicit}`, 'unavailable');
  }
  if (!isSrgbProfile(bytes))
    throw new PdfAError(`PDF/A output needs an sRGB ICC profile: ${explicit} is not one`, 'unavailable');
  return explicit;
}
