import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activityDays } from './activity-days.js';

const HOUR = 3_600_000;
const hours = (fromUtc: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ hour: fromUtc + i * HOUR, issued: 1, failed: i % 2 }));

describe('activity days', () => {
  it('groups hours by calendar day in Amsterdam, 23 hours on the day the clocks go forward', () => {
    // Saturday 28 March 2026 00:00 CET (23:00 UTC the day before) to Monday 30 March 00:00 CEST.
    const days = activityDays(hours(Date.UTC(2026, 2, 27, 23), 24 + 23));
    assert.deepEqual(
      days.map((d) => [d.day, d.hours.length, d.startHour, d.issued]),
      [
        ['2026-03-28', 24, 0, 24],
        ['2026-03-29', 23, 0, 23],
      ],
    );
  });

  it('has 25 hours on the day the clocks go back', () => {
    // Sunday 25 October 2026 00:00 CEST is 22:00 UTC the day before.
    const days = activityDays(hours(Date.UTC(2026, 9, 24, 22), 25 + 24));
    assert.deepEqual(
      days.map((d) => [d.day, d.hours.length]),
      [
        ['2026-10-25', 25],
        ['2026-10-26', 24],
      ],
    );
  });

  it('counts an hour after Dutch midnight for the new day although it is still the day before in UTC, and marks a partial first day', () => {
    // 14:00 UTC on 5 December is 15:00 in Amsterdam; 23:30 UTC on 6 December is 00:30 on the 7th.
    const days = activityDays(hours(Date.UTC(2026, 11, 5, 14), 34));
    assert.deepEqual(
      days.map((d) => [d.day, d.startHour, d.hours.length, d.failed]),
      [
        ['2026-12-05', 15, 9, 4],
        ['2026-12-06', 0, 24, 12],
        ['2026-12-07', 0, 1, 1],
      ],
    );
  });
});
