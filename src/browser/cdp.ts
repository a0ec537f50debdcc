import type { ProtocolMapping } from 'devtools-protocol/types/protocol-mapping.js';

/**
 * The Chrome DevTools Protocol over Chromium's --remote-debugging-pipe, in flat session mode:
 * what the appliance needs of a CDP client and nothing else. Puppeteer-core's (used by the
 * benchmark's baseline and the tests) takes 270 ms of CPU to import, on a cold start's critical
 * path even when imported while Chromium launches (+630 ms to the first PDF), and 3.4 against
 * 2.2 µs per message; measured by test/bench/cdp-client.ts (docs/development.md).
 */

type Commands = ProtocolMapping.Commands;
type Events = ProtocolMapping.Events;
export type CommandName = keyof Commands;
export type EventName = keyof Events;
type Params<M extends CommandName> = Commands[M]['paramsType'];
type Result<M extends CommandName> = Commands[M]['returnType'];
type Payload<E extends EventName> = Events[E][0];

/** What carries messages to and from Chromium (one JSON text per message). */
export interface Transport {
  send(message: string): void;
  close(): void;
  onmessage?: (message: string) => void;
  onclose?: () => void;
}

export class CdpError extends Error {
  constructor(
    readonly method: string,
    message: string,
  ) {
    super(`${method}: ${message}`);
  }
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** One target's session (or the browser connection itself when `sessionId` is undefined). */
export class CdpSession {
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  detached = false;

  constructor(
    private readonly conn: CdpConnection,
    readonly sessionId: string | undefined,
  ) {}

  send<M extends CommandName>(method: M, ...params: Params<M>): Promise<Result<M>> {
    if (this.detached) return Promise.reject(new CdpError(method, 'session detached'));
    return this.conn.sendRaw(method, params[0] ?? {}, this.sessionId) as Promise<Result<M>>;
  }

  on<E extends EventName>(event: E, listener: (payload: Payload<E>) => void): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
  }

  off<E extends EventName>(event: E, listener: (payload: Payload<E>) => void): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** Called by the connection. */
  emit(event: string, payload: unknown): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as (p: unknown) => void)(payload);
      } catch {
        // A listener's bug must not stop the others or the connection.
      }
    }
  }

  /** Called by the connection when Chromium detaches the session (the target went away). */
  markDetached(): void {
    this.detached = true;
    this.listeners.clear();
  }
}

export class CdpConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sessions = new Map<string, CdpSession>();
  readonly root: CdpSession;
  private closed = false;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly transport: Transport,
    /** Bounds every command; renders bound themselves more tightly. 0: no bound. */
    private readonly timeoutMs: number,
  ) {
    this.root = new CdpSession(this, undefined);
    transport.onmessage = (m) => this.onMessage(m);
    transport.onclose = () => this.onClose();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The session with this id (flat mode: every attached target's session is known here). */
  session(sessionId: string): CdpSession | undefined {
    return this.sessions.get(sessionId);
  }

  onDisconnect(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.add(listener);
  }

  sendRaw(method: string, params: object, sessionId: string | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(new CdpError(method, 'connection closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        this.timeoutMs > 0
          ? setTimeout(
              () => this.settle(id, new CdpError(method, `no answer within ${this.timeoutMs} ms`)),
              this.timeoutMs,
            )
          : undefined;
      this.pending.set(id, { method, resolve, reject, timer });
      this.transport.send(
        JSON.stringify(sessionId === undefined ? { id, method, params } : { id, method, params, sessionId }),
      );
    });
  }

  close(): void {
    this.transport.close();
  }

  private onMessage(text: string): void {
    let msg: {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: unknown;
      error?: { message?: string };
      sessionId?: string;
    };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.id !== undefined) {
      if (msg.error)
        this.settle(msg.id, new CdpError(this.pending.get(msg.id)?.method ?? '?', msg.error.message ?? 'error'));
      else this.settle(msg.id, null, msg.result);
      return;
    }
    if (!msg.method) return;
    // A new session exists before anyone hears of it, so listeners can use it at once.
    if (msg.method === 'Target.attachedToTarget') {
      const id = msg.params?.['sessionId'] as string;
      if (!this.sessions.has(id)) this.sessions.set(id, new CdpSession(this, id));
    }
    const session = msg.sessionId === undefined ? this.root : this.sessions.get(msg.sessionId);
    session?.emit(msg.method, msg.params ?? {});
    if (msg.method === 'Target.detachedFromTarget') {
      const id = msg.params?.['sessionId'] as string;
      this.sessions.get(id)?.markDetached();
      this.sessions.delete(id);
    }
  }

  private settle(id: number, err: Error | null, result?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(result);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of [...this.pending]) this.settle(id, new CdpError(p.method, 'connection closed'));
    for (const s of this.sessions.values()) s.markDetached();
    this.sessions.clear();
    for (const l of this.closeListeners) l();
    this.closeListeners.clear();
  }
}
