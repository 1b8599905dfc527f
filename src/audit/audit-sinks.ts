import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import { ValidationError } from '../errors.js';
import type { AuditSink } from './audit-shipping.js';
import { checkJsonLinesTarget, JsonLinesSink } from './json-lines-sink.js';
import { SyslogSink } from './syslog-sink.js';

/** Syslog's default ports: RFC 5425 for TLS, the traditional one for plain TCP. */
const SYSLOG_PORTS = { tcp: 514, tls: 6514 } as const;

/** The audit sinks of the settings, their files read and checked; a file that cannot serve stops the start with its setting's name. */
export function auditSinks(
  config: Pick<Config, 'auditSyslogUrl' | 'auditSyslogCa' | 'auditSyslogCert' | 'auditSyslogKey' | 'auditJsonl'>,
): AuditSink[] {
  const sinks: AuditSink[] = [];
  const read = (file: string | undefined, env: string) => {
    if (!file) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ValidationError(`${env} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  if (config.auditSyslogUrl) {
    const url = new URL(config.auditSyslogUrl);
    const protocol = url.protocol === 'tls:' ? 'tls' : 'tcp';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const ca = read(config.auditSyslogCa, 'ZGW_AUTH_AUDIT_SYSLOG_CA');
    const cert = read(config.auditSyslogCert, 'ZGW_AUTH_AUDIT_SYSLOG_CERT');
    const key = read(config.auditSyslogKey, 'ZGW_AUTH_AUDIT_SYSLOG_KEY');
    sinks.push(
      new SyslogSink(
        {
          protocol,
          host,
          port: url.port ? Number(url.port) : SYSLOG_PORTS[protocol],
          ...(ca ? { ca } : {}),
          ...(cert ? { cert } : {}),
          ...(key ? { key } : {}),
          connectTimeoutMs: 4000,
        },
        os.hostname(),
      ),
    );
  }
  if (config.auditJsonl) {
    const target = config.auditJsonl === 'stdout' ? 'stdout' : path.resolve(config.auditJsonl);
    try {
      checkJsonLinesTarget(target);
    } catch (err) {
      throw new ValidationError(
        `ZGW_AUTH_AUDIT_JSONL ${target} cannot be written: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    sinks.push(new JsonLinesSink(target));
  }
  return sinks;
}
