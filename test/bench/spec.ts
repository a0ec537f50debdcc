import { getuid } from 'node:process';
import { BASE_ARGS, jsHeapFlag } from '../../src/browser/chromium.js';
import { loadConfig } from '../../src/config/config.js';
import { planPrint } from '../../src/render/print-plan.js';
import type { ChromeSpec } from './launch.js';

/**
 * The baseline's Chromium and print options, derived from the very env the appliance gets:
 * the appliance's own launch flags (BASE_ARGS), its sandbox decision, its viewport, and the
 * print options its planner produces for a page without hints. A knob such as
 * BENCH_APPLIANCE_ENV='TAGGED=true' therefore changes both sides alike.
 */
export function chromeSpec(applianceEnv: Record<string, string>): ChromeSpec {
  const config = loadConfig(applianceEnv);
  if (!config.chromePath) throw new Error('no Chromium found (set CHROME_PATH)');
  // Mirrors BrowserSupervisor: `auto` uses the sandbox unless running as root.
  const sandbox = config.sandbox === 'on' || (config.sandbox === 'auto' && getuid?.() !== 0);
  const plan = planPrint({ meta: {}, title: '', selectorErrors: {} }, config.pdf);
  return {
    executablePath: config.chromePath,
    args: [
      ...BASE_ARGS,
      jsHeapFlag(Math.round(config.renderMemoryBytes / 2 ** 20)),
      ...(sandbox ? [] : ['--no-sandbox']),
    ],
    pdf: plan.pdf,
    // Same as src/browser/supervisor.ts's launch (not exported there).
    viewport: { width: 1024, height: 768 },
  };
}
