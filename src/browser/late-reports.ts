/**
 * What one DevTools session reports, by key, for a question asked on another. The two travel
 * separately (a frame announced on the tab's session and its first request paused on the
 * browser's; the Network domain's report of who made a request and the same request paused),
 * so the question can come first: it waits briefly for the report, and without one it has no
 * answer.
 */
export class LateReports<V> {
  private readonly reported = new Map<string, V>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly waitMs: number) {}

  /** Records the report and wakes whoever waits for it. */
  set(key: string, value: V): void {
    this.reported.set(key, value);
    const waiters = this.waiting.get(key);
    if (!waiters) return;
    this.waiting.delete(key);
    for (const w of waiters) w();
  }

  /** What was reported for `key`, without waiting. */
  peek(key: string): V | undefined {
    return this.reported.get(key);
  }

  /** What was reported for `key`, waiting up to `waitMs` for a report not in yet. */
  async get(key: string): Promise<V | undefined> {
    const known = this.reported.get(key);
    if (known !== undefined) return known;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const rest = (this.waiting.get(key) ?? []).filter((w) => w !== done);
        if (rest.length > 0) this.waiting.set(key, rest);
        else this.waiting.delete(key);
        resolve();
      }, this.waitMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), done]);
    });
    return this.reported.get(key);
  }

  delete(key: string): void {
    this.reported.delete(key);
  }

  /** Forgets every report; questions already waiting still wait for theirs. */
  clear(): void {
    this.reported.clear();
  }
}
