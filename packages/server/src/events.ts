/**
 * Server-sent events at /v1/events. Every write the facade reports is forwarded at once
 * (`routed`, `outcomes`, `transition`), followed by a fresh `status` (every role, as GET
 * /v1/status). Status computations are coalesced: while one runs, later changes mark it dirty
 * and one more follows, so a burst of outcomes costs two computations, not one per outcome.
 */
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { ServiceEvent, ServiceFacade } from './facade.js';

const KEEPALIVE_MS = 15_000;
/** Another process (the CLI) may write too: the state is looked at this often while anyone listens. */
const POLL_MS = 2_000;

export interface EventHub {
  stream(c: Context): Response;
  /** Clients connected now. */
  readonly clients: number;
  close(): Promise<void>;
}

export function createEventHub(facade: ServiceFacade, log: (line: string) => void): EventHub {
  const clients = new Set<SSEStreamingApi>();
  const closers = new Set<() => void>();
  let sequence = 0;
  let statusRunning = false;
  let statusDirty = false;
  let lastStatusJson = '';

  const broadcast = (event: string, data: unknown) => {
    const message = { event, data: JSON.stringify(data), id: String((sequence += 1)) };
    for (const client of clients) void client.writeSSE(message).catch(() => clients.delete(client));
  };

  const pushStatus = async (force = false): Promise<void> => {
    if (statusRunning) {
      statusDirty = true;
      return;
    }
    statusRunning = true;
    try {
      do {
        statusDirty = false;
        const roles = await facade.status();
        const text = JSON.stringify(roles);
        if (force || text !== lastStatusJson) {
          lastStatusJson = text;
          broadcast('status', { roles });
        }
        force = false;
      } while (statusDirty && clients.size > 0);
    } catch (error) {
      log(`events: status failed: ${(error as Error).message}`);
    } finally {
      statusRunning = false;
    }
  };

  const unsubscribe = facade.subscribe((event: ServiceEvent) => {
    if (clients.size === 0) return;
    if (event.type === 'transition') broadcast('transition', event.event);
    else broadcast(event.type, event);
    void pushStatus();
  });

  const poll = setInterval(() => {
    if (clients.size > 0) void pushStatus();
  }, POLL_MS);
  poll.unref();

  return {
    get clients() {
      return clients.size;
    },
    stream(c) {
      c.header('Cache-Control', 'no-cache');
      c.header('X-Accel-Buffering', 'no');
      return streamSSE(c, async (stream) => {
        clients.add(stream);
        let wake: () => void = () => {};
        const closed = new Promise<void>((resolve) => {
          wake = resolve;
        });
        closers.add(wake);
        stream.onAbort(() => wake());
        // The newcomer gets the current status at once (everyone else only if it changed).
        try {
          const roles = await facade.status();
          await stream.writeSSE({ event: 'status', data: JSON.stringify({ roles }), id: String((sequence += 1)) });
        } catch (error) {
          log(`events: status failed: ${(error as Error).message}`);
        }
        const keepalive = setInterval(() => void stream.write(': keepalive\n\n').catch(() => wake()), KEEPALIVE_MS);
        await closed;
        clearInterval(keepalive);
        clients.delete(stream);
        closers.delete(wake);
      });
    },
    async close() {
      clearInterval(poll);
      unsubscribe();
      for (const wake of [...closers]) wake();
      await Promise.all([...clients].map((client) => client.close().catch(() => {})));
      clients.clear();
    },
  };
}
