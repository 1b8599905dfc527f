/**
 * Fault injection for the tests of interrupted starts, migrations and imports: a process started
 * with ZGW_AUTH_TEST_CRASH_AT=<point> kills itself (SIGKILL, nothing runs after it) when it reaches
 * that point, so every step boundary is tested, not only those a timed kill happens to hit.
 * Without the variable this is a no-op.
 */
export function crashPoint(point: string): void {
  if (process.env.ZGW_AUTH_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
