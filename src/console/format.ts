import type { Lang } from './messages.js';

const ZONE = 'Europe/Amsterdam';
const LOCALES: Record<Lang, string> = { nl: 'nl-NL', en: 'en-GB' };
const TIME: Intl.DateTimeFormatOptions = { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' };
const DAY: Intl.DateTimeFormatOptions = { timeZone: ZONE, weekday: 'short', day: 'numeric', month: 'short' };
// Made on first use, each kept: every process loads this module, few format a date (about 20 ms of
// CPU for the four at start).
const dateTime: Partial<Record<Lang, Intl.DateTimeFormat>> = {};
const dayFormat: Partial<Record<Lang, Intl.DateTimeFormat>> = {};

/** A moment in Dutch time, as people there read it. */
export function formatTime(lang: Lang, ms: number | null | undefined, never = '—'): string {
  return ms === null || ms === undefined
    ? never
    : (dateTime[lang] ??= new Intl.DateTimeFormat(LOCALES[lang], TIME)).format(ms);
}

export function formatDay(lang: Lang, ms: number): string {
  return (dayFormat[lang] ??= new Intl.DateTimeFormat(LOCALES[lang], DAY)).format(ms);
}

const UNITS: Record<Lang, [one: string, many: string][]> = {
  nl: [
    ['seconde', 'seconden'],
    ['minuut', 'minuten'],
    ['uur', 'uur'],
    ['dag', 'dagen'],
  ],
  en: [
    ['second', 'seconds'],
    ['minute', 'minutes'],
    ['hour', 'hours'],
    ['day', 'days'],
  ],
};

/** "4 minuten", "2 hours": a duration rounded to the unit people would use. */
export function formatDuration(lang: Lang, seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  const [value, unit] =
    s < 120
      ? [s, 0]
      : s < 7200
        ? [Math.round(s / 60), 1]
        : s < 172_800
          ? [Math.round(s / 3600), 2]
          : [Math.round(s / 86_400), 3];
  const [one, many] = UNITS[lang][unit]!;
  return `${value} ${value === 1 ? one : many}`;
}

/** Epoch ms of 00:00 Dutch time on a `YYYY-MM-DD` day; undefined for anything else. */
export function startOfDutchDay(day: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const utcMidnight = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(utcMidnight) || new Date(utcMidnight).toISOString().slice(0, 10) !== day) return undefined;
  // The zone's offset at that moment (one or two hours), read back from the formatted local time.
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(utcMidnight);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return utcMidnight - (local - utcMidnight);
}
