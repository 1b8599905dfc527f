import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../config.js';
import type { AuditEvent } from './audit-store.js';
import { jsonLine, JSON_LINE_TYPE } from './json-lines-sink.js';
import { shippedDetails, shippedDetailsJson, type StoredEvent } from './shipped-event.js';
import { MAX_MESSAGE_OCTETS, octetCounted, SD_ID, SyslogSink, syslogMessage } from './syslog-sink.js';

const AT = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

/** An event as the trail stores it (details as JSON text), from its fields. */
function event(over: Partial<AuditEvent> = {}): StoredEvent {
  const e: AuditEvent = {
    id: 42,
    at: AT,
    actor: 'zaaksysteem',
    action: 'token.issued',
    target: 'zaaksysteem',
    address: '192.0.2.7',
    reason: null,
    details: { jti: 'abc', scope: 'zaken.lezen' },
    organisation: '000000000',
    ...over,
  };
  return { ...e, details: JSON.stringify(e.details) };
}

/** The SD-PARAMs of a message's one SD-ELEMENT, unescaped (RFC 5424 §6.3.3), as a receiver reads them. */
function params(message: string): Record<string, string> {
  const start = message.indexOf(`[${SD_ID} `);
  assert.ok(start > 0, message);
  const out: Record<string, string> = {};
  const re = / ([a-z]+)="((?:[^"\\]|\\.)*)"/gy;
  let end = start + SD_ID.length + 1;
  re.lastIndex = end;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    out[m[1]!] = m[2]!.replace(/\\(["\\\]])/g, '$1');
    end = re.lastIndex;
  }
  assert.equal(message[end], ']', 'the element ends after its params');
  return out;
}

describe('audit events as RFC 5424 syslog messages', () => {
  it('header: PRI of authpriv with severity by outcome, version 1, the event time, host, app-name, action as MSGID', () => {
    const m = syslogMessage(event(), 'auth-1.example');
    assert.equal(m.split(' [')[0], '<86>1 2030-01-02T03:04:05.678Z auth-1.example zgw-auth - token.issued');
    // client_auth.failed (a reason): warning; administration: notice.
    assert.match(
      syslogMessage(event({ action: 'client_auth.failed', reason: 'wrong_secret' }), 'h'),
      /^<84>1 .* client_auth\.failed \[/,
    );
    assert.match(syslogMessage(event({ action: 'client.created' }), 'h'), /^<85>1 /);
    // A host name with a space, and an action over 32 characters, become the nil value.
    assert.match(syslogMessage(event({ action: 'a'.repeat(33) }), 'my host'), /^<85>1 \S+ - zgw-auth - - \[/);
  });

  it('every field as an SD-PARAM, escaped, details as JSON; null fields left out; a readable MSG', () => {
    const e = event({ target: 'we"ird]\\name', details: { list: [1, 2], text: 'é "q"' } });
    const m = syslogMessage(e, 'h');
    const p = params(m);
    assert.deepEqual(
      { ...p, details: JSON.parse(p.details!) },
      {
        id: '42',
        actor: 'zaaksysteem',
        action: 'token.issued',
        target: 'we"ird]\\name',
        address: '192.0.2.7',
        organisation: '000000000',
        details: { list: [1, 2], text: 'é "q"' },
      },
    );
    assert.ok(!('reason' in p));
    assert.ok(m.endsWith('] token.issued we"ird]\\name by zaaksysteem, from 192.0.2.7'), m);
  });

  it('octet-counting frames count octets, not characters', () => {
    assert.equal(octetCounted('é€'), '5 é€');
  });

  it('an event over the size limit keeps its fields and has its details cut (truncated="true"), UTF-8 intact', () => {
    const m = syslogMessage(event({ details: { note: '€"]'.repeat(5000) } }), 'h');
    assert.ok(Buffer.byteLength(m) <= MAX_MESSAGE_OCTETS, String(Buffer.byteLength(m)));
    assert.ok(Buffer.byteLength(m) > MAX_MESSAGE_OCTETS - 200, 'cut no more than needed');
    const p = params(m);
    assert.equal(p.truncated, 'true');
    assert.equal(p.id, '42');
    assert.ok(p.details!.startsWith('{"note":"€\\"]'));
    assert.ok(!Buffer.from(m).toString('utf8').includes('\ufffd'));
    assert.ok(!('truncated' in params(syslogMessage(event(), 'h'))));
  });

  it('fields named like secrets or tokens are never shipped, at any depth, in syslog and JSON lines', () => {
    const details = {
      jti: 'keep',
      secret: 's1',
      nested: { client_secret: 's2', list: [{ access_token: 't1', value: 's3', name: 'keep' }] },
      token: 't2',
    };
    const expected = {
      jti: 'keep',
      secret: '[redacted]',
      nested: {
        client_secret: '[redacted]',
        list: [{ access_token: '[redacted]', value: '[redacted]', name: 'keep' }],
      },
      token: '[redacted]',
    };
    assert.deepEqual(shippedDetails(details), expected);
    const m = syslogMessage(event({ details }), 'h');
    assert.deepEqual(JSON.parse(params(m).details!), expected);
    assert.deepEqual((JSON.parse(jsonLine(event({ details }))) as { details: unknown }).details, expected);
    // Stored text spelling a key with escapes is read, not trusted to be harmless; text that does not parse is not shipped.
    assert.equal(shippedDetailsJson('{"\\u0073ecret":"s4","n":1}'), '{"secret":"[redacted]","n":1}');
    assert.equal(shippedDetailsJson('{"token" : "t3"}'), '{"token":"[redacted]"}');
    assert.equal(shippedDetailsJson('{"secret":'), '{"unreadable":true}');
    // What needs nothing redacted goes as stored.
    assert.equal(shippedDetailsJson('{"jti":"abc","scope":"s"}'), '{"jti":"abc","scope":"s"}');
    for (const s of ['s1', 's2', 's3', 't1', 't2'])
      assert.ok(!m.includes(`"${s}"`) && !jsonLine(event({ details })).includes(`"${s}"`));
  });

  it('JSON lines: one line per event with every field and its time', () => {
    const line = jsonLine(event({ reason: 'x' }));
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(line), {
      type: JSON_LINE_TYPE,
      id: 42,
      time: '2030-01-02T03:04:05.678Z',
      at: AT,
      actor: 'zaaksysteem',
      action: 'token.issued',
      target: 'zaaksysteem',
      address: '192.0.2.7',
      reason: 'x',
      organisation: '000000000',
      details: { jti: 'abc', scope: 'zaken.lezen' },
    });
  });
});

/** A TCP receiver that does `behave` with each connection; what it read, per connection. */
async function receiver(behave: (socket: net.Socket, read: () => string) => void, allowHalfOpen = false) {
  const connections: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    const i = connections.push('') - 1;
    sockets.push(socket);
    socket.on('data', (d: Buffer) => (connections[i] += d.toString('utf8')));
    socket.on('error', () => {});
    behave(socket, () => connections[i]!);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    close: () => new Promise<void>((r) => (server.close(() => r()), sockets.forEach((c) => c.destroy()))),
  };
}

describe('SyslogSink: a batch counts as delivered only when the receiver confirms it by closing in order', () => {
  const sinkTo = (port: number) =>
    new SyslogSink({ protocol: 'tcp', host: '127.0.0.1', port, connectTimeoutMs: 2000 }, 'h');
  const signal = () => AbortSignal.timeout(5000);

  it('a receiver that reads to the end and closes: delivered, every frame received', async () => {
    const r = await receiver((socket) => socket.on('end', () => socket.end()));
    try {
      await sinkTo(r.port).deliver([event({ id: 1 }), event({ id: 2 })], signal());
      const frames = r.connections[0]!;
      const first = Number(frames.slice(0, frames.indexOf(' ')));
      assert.match(frames.slice(frames.indexOf(' ') + 1, frames.indexOf(' ') + 1 + first), / id="1"/);
      assert.match(frames, / id="2"/);
    } finally {
      await r.close();
    }
  });

  it('a receiver that resets the connection, or never closes: not delivered (sent again later)', async () => {
    const reset = await receiver((socket) => socket.on('data', () => socket.resetAndDestroy()));
    // Reads everything, even the end, and keeps its side open.
    const silent = await receiver(() => {}, true);
    try {
      await assert.rejects(sinkTo(reset.port).deliver([event()], signal()));
      await assert.rejects(sinkTo(silent.port).deliver([event()], AbortSignal.timeout(300)), /not confirmed in time/);
    } finally {
      await reset.close();
      await silent.close();
    }
  });

  it('nobody listening: not delivered', async () => {
    const r = await receiver(() => {});
    await r.close();
    await assert.rejects(sinkTo(r.port).deliver([event()], signal()), /ECONNREFUSED/);
  });
});

describe('audit shipping settings', () => {
  it('a syslog URL is tcp:// or tls:// with a host and nothing else', () => {
    assert.equal(
      loadConfig({ ZGW_AUTH_AUDIT_SYSLOG_URL: 'tls://siem.example:6514' }).auditSyslogUrl,
      'tls://siem.example:6514',
    );
    assert.equal(loadConfig({ ZGW_AUTH_AUDIT_SYSLOG_URL: 'tcp://[::1]' }).auditSyslogUrl, 'tcp://[::1]');
    for (const bad of [
      'udp://siem:514',
      'http://siem',
      'tls://',
      'tls://u:p@siem',
      'tcp://siem/path',
      'tcp://siem?x=1',
      'siem:514',
    ])
      assert.throws(
        () => loadConfig({ ZGW_AUTH_AUDIT_SYSLOG_URL: bad }),
        /ZGW_AUTH_AUDIT_SYSLOG_URL must be tcp:\/\/host:port/,
        bad,
      );
  });

  it('CA, certificate and key only with tls://; certificate and key together', () => {
    for (const name of ['ZGW_AUTH_AUDIT_SYSLOG_CA', 'ZGW_AUTH_AUDIT_SYSLOG_CERT', 'ZGW_AUTH_AUDIT_SYSLOG_KEY'])
      assert.throws(
        () =>
          loadConfig({
            ZGW_AUTH_AUDIT_SYSLOG_URL: 'tcp://siem',
            [name]: '/x.pem',
            ZGW_AUTH_AUDIT_SYSLOG_CERT: '/c',
            ZGW_AUTH_AUDIT_SYSLOG_KEY: '/k',
          }),
        new RegExp(`needs ZGW_AUTH_AUDIT_SYSLOG_URL=tls://`),
        name,
      );
    assert.throws(
      () => loadConfig({ ZGW_AUTH_AUDIT_SYSLOG_URL: 'tls://siem', ZGW_AUTH_AUDIT_SYSLOG_CERT: '/c.pem' }),
      /both ZGW_AUTH_AUDIT_SYSLOG_CERT and ZGW_AUTH_AUDIT_SYSLOG_KEY/,
    );
    assert.equal(
      loadConfig({ ZGW_AUTH_AUDIT_SYSLOG_URL: 'tls://siem', ZGW_AUTH_AUDIT_SYSLOG_CA: '/ca.pem' }).auditSyslogCa,
      '/ca.pem',
    );
    assert.equal(loadConfig({}).auditBacklogMax, 1_000_000);
    assert.throws(
      () => loadConfig({ ZGW_AUTH_AUDIT_BACKLOG_MAX: '0' }),
      /ZGW_AUTH_AUDIT_BACKLOG_MAX must be a whole number/,
    );
  });
});
