/**
 * What the processes the appliance starts get of its environment: what they need, nothing
 * else. The appliance's environment holds FLY_API_TOKEN (a deploy token for the whole app),
 * REPLAY_SECRET and whatever else the operator keeps there; a compromised renderer can read
 * its own environment, and an unsandboxed one its siblings' too.
 *
 * Chromium, measured with the headless shell and Debian's `chromium` wrapper: with an empty
 * environment it starts, finds the system fonts and prints a page byte for byte the same
 * raster; what changes the output is TZ (dates in the page) and the locale. So it gets:
 *   - PATH: CHROME_PATH may be a shell wrapper (Debian's /usr/bin/chromium runs sed, grep);
 *   - HOME and the XDG and fontconfig variables: fonts installed for the user, and where
 *     fontconfig keeps its cache;
 *   - TMPDIR: where shared memory goes with --disable-dev-shm-usage;
 *   - LANG, LANGUAGE, LC_*, TZ: locale and time zone, as the operator set them;
 *   - CHROME_DEVEL_SANDBOX: where a setuid sandbox helper is, when one is used.
 */
const CHROMIUM_NEEDS = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LANGUAGE',
  'TZ',
  'FONTCONFIG_FILE',
  'FONTCONFIG_PATH',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_DATA_HOME',
  'XDG_DATA_DIRS',
  'XDG_CONFIG_DIRS',
  'CHROME_DEVEL_SANDBOX',
]);

export function chromiumEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return pick(env, (name) => CHROMIUM_NEEDS.has(name) || name.startsWith('LC_'));
}

function pick(env: NodeJS.ProcessEnv, wanted: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && wanted(name)) out[name] = value;
  return out;
}
