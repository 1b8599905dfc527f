import net from 'node:net';
import tls from 'node:tls';
import type { AuditSink } from './audit-shipping.js';
import { shippedDetailsJson, type StoredEvent } from './shipped-event.js';

/** RFC 5424 facility: authpriv (10), security and authorisation messages kept private. */
const FACILITY = 10;
const APP_NAME = 'zgw-auth';
/**
 * The structured data element's id. Not registered with IANA, so in the `name@<enterprise number>`
 * form (RFC 5424 §7.2.2), with 32473, the number set aside for documentation and examples (RFC 5612).
 */
export const SD_ID = 'zgw-auth@32473';
/**
 * Octets a message may have at most: RFC 5425 receivers should take 8192, rsyslog's default
 * maxMessageSize is 8 KiB. Larger events are sent with their details cut (truncated="true").
 */
export const MAX_MESSAGE_OCTETS = 8000;

export interface SyslogTarget {
  /** tcp: plain TCP; tls: TLS (RFC 5425). */
  protocol: 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM of the CAs the receiver's certificate must chain to (tls; default: Node's CA list). */
  ca?: Buffer;
  /** Certificate (and chain) and key for a receiver that asks for a client certificate (tls). */
  cert?: Buffer;
  key?: Buffer;
  /** Milliseconds to connect (and finish the TLS handshake). */
  connectTimeoutMs: number;
}

/** Severity: failures warning (4), tokens issued informational (6), everything else (administration) notice (5). */
function severity(e: StoredEvent): number {
  if (e.reason !== null || /\.(failed|refused)$/.test(e.action)) return 4;
  if (e.action === 'token.issued') return 6;
  return 5;
}

/** A PARAM-VALUE (RFC 5424 §6.3.3): `"`, `\` and `]` escaped with a backslash. */
function paramValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII without spaces, at most `max` characters; else the nil value. */
function headerField(v: string, max: number): string {
  return /^[\x21-\x7e]+$/.test(v) && v.length <= max ? v : '-';
}

/** A string cut to `length` UTF-16 units, without leaving half a surrogate pair. */
function cut(s: string, length: number): string {
  const c = s.slice(0, Math.max(0, length));
  return /[\ud800-\udbff]$/.test(c) ? c.slice(0, -1) : c;
}

/**
 * One audit event as an RFC 5424 message: the event's time, this host, app-name zgw-auth, the
 * action as MSGID, its fields as SD-PARAMs of one SD-ELEMENT (details as JSON text, secrets
 * redacted), and a short readable line as MSG (without BOM: any octets, RFC 5424 §6.4).
 */
export function syslogMessage(e: StoredEvent, hostname: string): string {
  const pri = FACILITY * 8 + severity(e);
  const header = `<${pri}>1 ${new Date(e.at).toISOString()} ${headerField(hostname, 255)} ${APP_NAME} - ${headerField(e.action, 32)}`;
  const params: [string, string][] = [
    ['id', String(e.id)],
    ['actor', e.actor],
    ['action', e.action],
    ['target', e.target],
  ];
  if (e.address !== null) params.push(['address', e.address]);
  if (e.reason !== null) params.push(['reason', e.reason]);
  if (e.organisation !== null) params.push(['organisation', e.organisation]);
  const fixed = params.map(([k, v]) => ` ${k}="${paramValue(v)}"`).join('');
  const text = [
    `${e.action} ${e.target} by ${e.actor}`,
    ...(e.reason !== null ? [`reason ${e.reason}`] : []),
    ...(e.address !== null ? [`from ${e.address}`] : []),
  ].join(', ');
  const compose = (details: string, truncated: boolean) =>
    `${header} [${SD_ID}${fixed} details="${paramValue(details)}"${truncated ? ' truncated="true"' : ''}] ${text}`;
  let details = shippedDetailsJson(e.details);
  let message = compose(details, false);
  // Too long: the details are cut until the whole fits (the fixed fields are bounded by the registry's own limits).
  for (let size = Buffer.byteLength(message); size > MAX_MESSAGE_OCTETS && details.length > 0;) {
    details = cut(details, Math.floor((details.length * MAX_MESSAGE_OCTETS) / size) - 16);
    message = compose(details, true);
    size = Buffer.byteLength(message);
  }
  return message;
}

/** Octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3): the message's length in octets, a space, the message. */
export function octetCounted(message: string): string {
  return `${Buffer.byteLength(message, 'utf8')} ${message}`;
}

/**
 * Audit events to a syslog receiver over TCP or TLS, one connection per batch (a full handshake
 * each time: rsyslog's openssl driver refuses resumed sessions when it asks for client certificates). Plain syslog over
 * TCP has no acknowledgements; the confirmation is the receiver's orderly close: after the batch
 * zgw-auth ends its side of the connection (FIN, after TLS's close_notify), a receiver closes its
 * own once it has read everything before it, as rsyslog and syslog-ng do. A batch counts as
 * delivered only then; a reset, an error or no close within the time allowed leaves it to be sent
 * again (at least once).
 */
export class SyslogSink implements AuditSink {
  readonly name = 'syslog';
  readonly target: string;

  constructor(
    private readonly to: SyslogTarget,
    private readonly hostname: string,
  ) {
    this.target = `${to.protocol}://${to.host.includes(':') ? `[${to.host}]` : to.host}:${to.port}`;
  }

  deliver(events: readonly StoredEvent[], signal: AbortSignal): Promise<void> {
    let frames = '';
    for (const e of events) frames += octetCounted(syslogMessage(e, this.hostname));
    const payload = Buffer.from(frames, 'utf8');
    return new Promise<void>((resolve, reject) => {
      const to = this.to;
      const socket =
        to.protocol === 'tls'
          ? tls.connect({
              host: to.host,
              port: to.port,
              // SNI carries host names only; an address is checked against the certificate's IP entries.
              ...(net.isIP(to.host) ? {} : { servername: to.host }),
              ...(to.ca ? { ca: to.ca } : {}),
              ...(to.cert ? { cert: to.cert } : {}),
              ...(to.key ? { key: to.key } : {}),
              minVersion: 'TLSv1.2',
              rejectUnauthorized: true,
            })
          : net.connect({ host: to.host, port: to.port });
      let settled = false;
      let written = false;
      let ended = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        signal.removeEventListener('abort', aborted);
        socket.destroy();
        reject(err);
      };
      const aborted = () => fail(new Error('not confirmed in time'));
      if (signal.aborted) return aborted();
      signal.addEventListener('abort', aborted, { once: true });
      const connectTimer = setTimeout(() => fail(new Error('connect timed out')), to.connectTimeoutMs);
      socket.once(to.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(connectTimer);
        socket.end(payload, () => (written = true));
      });
      socket.on('error', (err: NodeJS.ErrnoException) =>
        fail(new Error(err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message)),
      );
      // Nothing is expected from the receiver; whatever it sends is read and let go.
      socket.on('data', () => {});
      socket.on('end', () => (ended = true));
      // Confirmed: the whole batch and its end were handed over, and the receiver closed in order.
      // A receiver that closed before reading it all resets the connection instead (an error above).
      socket.on('close', () => {
        if (settled) return;
        if (!(ended && written))
          return fail(new Error('the receiver closed the connection before confirming the batch'));
        settled = true;
        signal.removeEventListener('abort', aborted);
        resolve();
      });
    });
  }
}
