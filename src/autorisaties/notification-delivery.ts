import crypto from 'node:crypto';
import { inSpan, type TraceSpan, type Tracing } from '../tracing.js';
import { KANAAL, type Notificatie, type NotificationOutbox, type OutboxEntry } from './notifications.js';

export interface NotificationDeliveryOptions {
  /** The Notificaties API's base URL (ZGW_AUTH_NOTIFICATIONS_URL), without trailing slash. */
  baseUrl: string;
  /** zgw-auth's client id and secret at the Notificaties API: its self-signed ZGW tokens. */
  clientId: string;
  secret: string;
  /** Milliseconds one request may take. */
  timeoutMs: number;
  /** Longest wait between two attempts of one notification. */
  retryMaxMs: number;
  /** The kanaal's documentatieLink, read when the kanaal is registered. */
  documentatieLink: () => string;
  now: () => number;
  log: (level: 'info' | 'warn' | 'error', details: Record<string, unknown>, message: string) => void;
  /** Counted per notification: accepted by the Notificaties API, or refused for good. */
  counted: (outcome: 'delivered' | 'failed' | 'retried') => void;
  /**
   * With tracing on: a span per round that has something to send, with a span per request to the
   * Notificaties API (whose traceparent it passes on) and per statement inside. A round starts a
   * trace of its own: it runs after the request that wrote the change has been answered.
   */
  tracing?: Tracing;
}

/** Rows taken per round. */
const BATCH = 10;
/** Milliseconds between looks at the outbox when nothing woke the loop (writes of other processes). */
const POLL_MS = 1000;
/** The first wait after a failed attempt; it doubles per attempt up to retryMaxMs. */
const FIRST_RETRY_MS = 1000;
/** Bytes of an answer read at most (the kanaal list); the rest is not read. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Characters of an error kept with a row and in a log line. */
const MAX_ERROR = 300;
/** Milliseconds a claim outlasts the request it covers: for the writes around it and clocks that differ a little. */
const LEASE_MARGIN_MS = 5000;
/** Requests registering the kanaal takes at most: look, register, look again. */
const KANAAL_REQUESTS = 3;

type Outcome = { ok: true } | { ok: false; permanent: boolean; error: string };

/**
 * Sends the outbox to the Notificaties API, one loop per process: at least once (a row goes only
 * once the Notificaties API accepted it), in order per applicatie (the outbox hands out only the
 * oldest waiting row of each), with doubling waits while the Notificaties API is away and a
 * permanent refusal (a 4xx other than 429) recorded, logged and counted instead of retried.
 */
export class NotificationDelivery {
  private running = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly aborter = new AbortController();
  private kanaalReady = false;
  /** A kick that came while a round ran: the next round follows without waiting. */
  private kicked = false;

  constructor(
    private readonly outbox: NotificationOutbox,
    private readonly options: NotificationDeliveryOptions,
  ) {}

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop = this.run();
  }

  /** A change was written: look at the outbox now rather than at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Stops the loop; a request in flight is abandoned and its row taken up again once its claim lapses. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let worked = false;
      this.kicked = false;
      try {
        worked = await this.nextRound();
      } catch (err) {
        this.options.log('error', { err }, 'notifications: reading or writing the outbox failed');
      }
      if (!worked && !this.stopped && !this.kicked)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          timer.unref?.();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      this.wake = undefined;
    }
  }

  /** The end of a claim that covers `requests` requests from now. */
  private leaseFor(requests: number): number {
    return this.options.now() + requests * this.options.timeoutMs + LEASE_MARGIN_MS;
  }

  /**
   * One batch; true when there was something to send. A claimed row is never sent by two processes
   * at once (nor overtaken by the next of its applicatie, which the outbox hands out only after
   * it): the claim covers the next request only, and is renewed for the rows not sent yet before
   * each later one. So the claims of a process that dies hold the rows for one request's time at
   * most, not for the whole batch's: another process, or the same one started again, sends them
   * soon after.
   */
  private async nextRound(): Promise<boolean> {
    const lease = this.leaseFor(this.kanaalReady ? 1 : 1 + KANAAL_REQUESTS);
    const entries = await this.outbox.claim(this.options.now(), lease, BATCH);
    if (entries.length === 0) return false;
    return inSpan(
      this.options.tracing,
      'deliver notifications',
      { kind: 'internal', attributes: { 'zgw_auth.notifications.batch': entries.length } },
      () => this.round(entries, lease),
    );
  }

  /** Sends the claimed rows (entries, held until `lease`); true: there was something to send. */
  private async round(entries: OutboxEntry[], lease: number): Promise<boolean> {
    if (!this.kanaalReady) {
      const registered = await this.registerKanaal();
      if (!registered.ok) {
        this.options.log(
          'error',
          { notificationsUrl: this.options.baseUrl, error: registered.error },
          'notifications: the kanaal could not be looked up or registered at the Notificaties API; retrying',
        );
        for (const e of entries) await this.retry(e, registered.error);
        return false;
      }
      this.kanaalReady = true;
    }
    for (let i = 0; i < entries.length; i++) {
      if (!this.stopped && lease < this.leaseFor(1)) {
        // Renewed only where still held: a row another process took meanwhile is left to it.
        const renewed = this.leaseFor(1);
        const held = new Set(
          await this.outbox.extend(
            entries.slice(i).map((e) => e.id),
            lease,
            renewed,
          ),
        );
        lease = renewed;
        entries = [...entries.slice(0, i), ...entries.slice(i).filter((e) => held.has(e.id))];
        if (i >= entries.length) break;
      }
      const entry = entries[i]!;
      const sent = this.stopped ? undefined : await this.send('POST', '/notificaties', entry.message);
      if (!sent || (this.stopped && !sent.ok)) {
        // Stopping: what was not sent is given back, for the next start or another process.
        await this.outbox.release(entries.slice(i).map((e) => e.id));
        return true;
      }
      if (sent.ok) {
        await this.outbox.delivered(entry.id);
        this.options.counted('delivered');
      } else if (sent.permanent) {
        await this.outbox.failed(entry.id, this.options.now(), sent.error);
        this.options.counted('failed');
        this.options.log(
          'error',
          { notificationsUrl: this.options.baseUrl, outboxId: entry.id, actie: entry.message.actie, error: sent.error },
          'notifications: the Notificaties API refused a notification for good; it is kept in the outbox, marked failed, and not sent again',
        );
      } else {
        await this.retry(entry, sent.error);
      }
    }
    return true;
  }

  private async retry(entry: OutboxEntry, error: string): Promise<void> {
    const wait = Math.min(this.options.retryMaxMs, FIRST_RETRY_MS * 2 ** Math.min(entry.attempts, 30));
    // Up to a fifth less, so that processes and rows that failed together do not retry together.
    const jittered = Math.round(wait * (1 - Math.random() * 0.2));
    await this.outbox.retryAt(entry.id, this.options.now() + jittered, error);
    this.options.counted('retried');
    if (entry.attempts === 0)
      this.options.log(
        'warn',
        { notificationsUrl: this.options.baseUrl, outboxId: entry.id, error },
        'notifications: the Notificaties API is away; retrying with growing waits',
      );
  }

  /** GET /kanaal?naam=autorisaties; POST /kanaal when it is missing. */
  private async registerKanaal(): Promise<Outcome> {
    const found = await this.kanaalExists();
    if (!found.ok || found.exists) return found.ok ? { ok: true } : found;
    const made = await this.send('POST', '/kanaal', {
      naam: KANAAL,
      documentatieLink: this.options.documentatieLink(),
      filters: [],
    });
    if (made.ok) {
      this.options.log(
        'info',
        { notificationsUrl: this.options.baseUrl },
        'notifications: kanaal autorisaties registered',
      );
      return made;
    }
    // Another process may have registered it meanwhile (the name is unique).
    const again = await this.kanaalExists();
    return again.ok && again.exists ? { ok: true } : { ok: false, permanent: false, error: made.error };
  }

  private async kanaalExists(): Promise<
    { ok: true; exists: boolean } | { ok: false; permanent: boolean; error: string }
  > {
    const res = await this.request('GET', `/kanaal?naam=${encodeURIComponent(KANAAL)}`);
    if (!res.ok) return res;
    try {
      const list = JSON.parse(res.body) as unknown;
      const items = Array.isArray(list) ? list : (list as { results?: unknown })?.results;
      return {
        ok: true,
        exists: Array.isArray(items) && items.some((k) => (k as { naam?: unknown })?.naam === KANAAL),
      };
    } catch {
      return { ok: false, permanent: false, error: 'the kanaal list is not JSON' };
    }
  }

  private async send(method: string, path: string, body: Notificatie | object): Promise<Outcome> {
    const res = await this.request(method, path, body);
    return res.ok ? { ok: true } : res;
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ ok: true; body: string } | { ok: false; permanent: boolean; error: string }> {
    const where = path.split('?')[0]!;
    return inSpan(this.options.tracing, `${method} ${where}`, this.spanOptions(method, where), (span) =>
      this.requestIn(span, method, path, body),
    );
  }

  /** A request's span: the Notificaties API's URL without query string or credentials. */
  private spanOptions(method: string, where: string) {
    const url = new URL(`${this.options.baseUrl}${where}`);
    return {
      kind: 'client' as const,
      attributes: {
        'http.request.method': method,
        'url.full': `${url.protocol}//${url.host}${url.pathname}`,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      },
    };
  }

  private async requestIn(
    span: TraceSpan | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ ok: true; body: string } | { ok: false; permanent: boolean; error: string }> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = AbortSignal.any([timeout, this.aborter.signal]);
    try {
      const res = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token()}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          // With tracing on, this request's traceparent: the Notificaties API's spans join the trace.
          ...span?.headers(),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
        redirect: 'manual',
      });
      const text = await readBounded(res);
      span?.setAttributes({ 'http.response.status_code': res.status });
      if (res.status >= 200 && res.status < 300) return { ok: true, body: text };
      span?.fail(String(res.status));
      const error = `${method} ${path.split('?')[0]}: ${res.status} ${printable(text)}`.slice(0, MAX_ERROR);
      const away = res.status === 429 || res.status >= 500;
      return { ok: false, permanent: !away, error };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string }; message?: string };
      const why = timeout.aborted ? 'timed out' : (e.cause?.code ?? e.name ?? 'failed');
      span?.fail(timeout.aborted ? 'timeout' : why);
      return { ok: false, permanent: false, error: `${method} ${path.split('?')[0]}: ${why}` };
    }
  }

  /** A self-signed ZGW token (HS256), as every ZGW component sends to another. */
  private token(): string {
    const iat = Math.floor(this.options.now() / 1000);
    const { clientId } = this.options;
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${b64({ alg: 'HS256', typ: 'JWT', client_identifier: clientId })}.${b64({
      iss: clientId,
      iat,
      exp: iat + 600,
      client_id: clientId,
      user_id: 'zgw-auth',
      user_representation: 'zgw-auth',
    })}`;
    const sig = crypto.createHmac('sha256', this.options.secret).update(head).digest('base64url');
    return `${head}.${sig}`;
  }
}

/** The answer's text, up to MAX_ANSWER_BYTES. */
async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_ANSWER_BYTES) break;
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An answer's text for a log line: printable, short. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
