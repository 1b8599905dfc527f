#!/usr/bin/env bash
# Brings up what the test suite needs, installing Debian packages that are missing: PostgreSQL on
# 127.0.0.1:5432 (trust auth, database test), Redis on 127.0.0.1:6379, curl, wrk, jq, python3-jwt, python3-authlib,
# python3-requests, a JDK and Gson (the README's Java snippet), nginx, rsyslog with its TLS drivers (the
# audit shipping tests' syslog receiver), and Chromium for the console's browser tests.
# Run by `npm test` before the tests, and so by CI.
set -euo pipefail

apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! command -v apt-get >/dev/null || { [ ${#sudo[@]} -gt 0 ] && ! command -v sudo >/dev/null; }; then
    echo "test-env: missing $*; install it (Debian packages: $*) and run again" >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then "${sudo[@]}" apt-get update -qq; APT_UPDATED=1; fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# PostgreSQL (the fault tests also start a private one of their own from these binaries)
installed_pg=
command -v pg_ctlcluster >/dev/null || { apt_install postgresql; installed_pg=1; }
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "test-env: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
if [ -n "$installed_pg" ]; then
  # Installed just now, for the tests: let them in without a password, as CI does.
  hba="$(ls /etc/postgresql/*/main/pg_hba.conf | sort -V | tail -1)"
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main reload
  psql -h 127.0.0.1 -U postgres -Atc 'create database test' >/dev/null
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  echo "test-env: PostgreSQL must let user postgres into database test without a password (trust for 127.0.0.1 in pg_hba.conf, then createdb test)" >&2
  exit 1
fi

# Redis
command -v redis-server >/dev/null || apt_install redis-server
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

# Real clients of the interop tests, and the benchmark harness's load generator (smoke-tested)
command -v curl >/dev/null || apt_install curl
command -v wrk >/dev/null || apt_install wrk
command -v jq >/dev/null || apt_install jq
/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null || apt_install python3-jwt python3-cryptography
/usr/bin/python3 -c 'import requests' 2>/dev/null || apt_install python3-requests
/usr/bin/python3 -c 'import authlib' 2>/dev/null || apt_install python3-authlib
# The README's Java binding check runs as a single-file program (JDK 17 and Gson)
command -v java >/dev/null || apt_install openjdk-17-jdk-headless
[ -f /usr/share/java/gson.jar ] || apt_install libgoogle-gson-java
# nginx in front of zgw-auth, passing client certificates in a header (the tests start their own)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx

# The audit shipping tests' syslog receiver: rsyslogd run by the tests themselves, in the foreground with
# a private configuration on a free port (imtcp, plain and TLS through the gtls and ossl drivers);
# the tests never use the machine's own syslog service.
{ command -v rsyslogd >/dev/null || [ -x /usr/sbin/rsyslogd ]; } || apt_install rsyslog
ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || apt_install rsyslog-gnutls
ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 || apt_install rsyslog-openssl

# The console's browser tests drive Debian's Chromium (playwright-core brings no browser of its own)
command -v chromium >/dev/null || apt_install chromium
