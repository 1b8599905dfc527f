import type { HourActivity } from '../audit/activity.js';

const ZONE = 'Europe/Amsterdam';
// Made on first use: making them loads the time zone data, ~15 ms of CPU at every server start.
let formats: { dayKey: Intl.DateTimeFormat; hourOf: Intl.DateTimeFormat } | undefined;
const dutch = () =>
  (formats ??= {
    dayKey: new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }),
    hourOf: new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', hourCycle: 'h23' }),
  });

/** One calendar day in Dutch time (Europe/Amsterdam) and what of it the report covers. */
export interface ActivityDay {
  /** `YYYY-MM-DD` in Dutch time. */
  day: string;
  /** Epoch ms of the first hour of the day the report covers. */
  from: number;
  /** The hours of the day the report covers (23, 24 or 25 on a whole day: DST days differ). */
  hours: HourActivity[];
  /** Dutch hour (0-23) the covered part starts at: 0 unless the report starts during this day. */
  startHour: number;
  issued: number;
  failed: number;
}

/** The Dutch calendar date of a moment, `YYYY-MM-DD`. */
export function dutchDay(ms: number): string {
  return dutch().dayKey.format(ms);
}

/**
 * The report's hours grouped by calendar day in Dutch time, oldest first. The report covers the
 * last 7 × 24 hours, so its first day is usually covered only from some hour on, and its last day
 * (today) up to now. Hours are whole UTC hours and the Dutch offsets whole hours, so every hour falls
 * in exactly one Dutch day.
 */
export function activityDays(hours: readonly HourActivity[]): ActivityDay[] {
  const days: ActivityDay[] = [];
  for (const h of hours) {
    const day = dutchDay(h.hour);
    let last = days.at(-1);
    if (last?.day !== day) {
      last = { day, from: h.hour, hours: [], startHour: Number(dutch().hourOf.format(h.hour)), issued: 0, failed: 0 };
      days.push(last);
    }
    last.hours.push(h);
    last.issued += h.issued;
    last.failed += h.failed;
  }
  return days;
}
