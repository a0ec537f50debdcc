import type { Browser, Page } from 'puppeteer-core';

/**
 * The floors the appliance is measured against: the same Chromium printing the same page in
 * the cheapest way a design with that much isolation can.
 *
 * - `naive`: a new tab in the default browser context per render, closed after (the
 *   benchmark's original baseline). Users share cookies, cache and storage.
 * - `kept-tab`: one tab per loop, navigated from render to render and never closed. No
 *   isolation at all: the cheapest a render can be, what reuse of a user's own tab aims at.
 * - `fresh-context`: a new browser context and tab per render, the context disposed after.
 *   Every render isolated, nothing prepared ahead: what one-context-per-user costs without
 *   its levers.
 *
 * None of them looks at who asks: they cannot isolate one user from the next, so they are
 * driven with the same request pattern as the appliance and the cookies are left out.
 */
export type FloorName = 'naive' | 'kept-tab' | 'fresh-context';

export const FLOOR_NAMES: readonly FloorName[] = ['naive', 'kept-tab', 'fresh-context'];

/** A tab to print in, and what the floor does with it afterwards. */
export interface FloorTab {
  page: Page;
  /** After a whole PDF: close, dispose, or keep for the loop's next render. */
  release(): Promise<void>;
  /** After a failure: never reuse it. */
  discard(): Promise<void>;
}

export interface Floor {
  /** The tab for loop number `loop`'s next render. */
  tab(loop: number): Promise<FloorTab>;
  /** Closes whatever the floor kept. */
  end(): Promise<void>;
}

export function isFloorName(v: unknown): v is FloorName {
  return typeof v === 'string' && (FLOOR_NAMES as readonly string[]).includes(v);
}

export function floor(browser: Browser, name: FloorName): Floor {
  switch (name) {
    case 'naive':
      return {
        async tab() {
          const page = await browser.newPage();
          const close = (): Promise<void> => page.close();
          return { page, release: close, discard: close };
        },
        end: async () => undefined,
      };
    case 'fresh-context':
      return {
        async tab() {
          const context = await browser.createBrowserContext();
          try {
            const page = await context.newPage();
            const dispose = (): Promise<void> => context.close();
            return { page, release: dispose, discard: dispose };
          } catch (err) {
            await context.close().catch(() => undefined);
            throw err;
          }
        },
        end: async () => undefined,
      };
    case 'kept-tab': {
      const kept = new Map<number, Page>();
      return {
        async tab(loop) {
          let page = kept.get(loop);
          if (!page || page.isClosed()) {
            page = await browser.newPage();
            kept.set(loop, page);
          }
          const mine = page;
          return {
            page: mine,
            release: async () => undefined,
            discard: async () => {
              if (kept.get(loop) === mine) kept.delete(loop);
              await mine.close();
            },
          };
        },
        async end() {
          const pages = [...kept.values()];
          kept.clear();
          await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
        },
      };
    }
  }
}
