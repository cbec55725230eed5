// Local dates and times of the 1C sale exchange: 1C writes and reads wall-clock time of the company's
// zone without an offset, so both directions convert through the flow's IANA time zone.

export const DEFAULT_SALE_TIME_ZONE = 'Europe/Moscow';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when the runtime knows the zone (checked when a flow is applied, not at the first exchange). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The instant as local `YYYY-MM-DD` and `HH:MM:SS` in the zone. */
export function toLocal(at: Date, timeZone: string): { date: string; time: string } {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}:${parts.second}` };
}

/** Offset of the zone from UTC at an instant, in milliseconds. */
function offsetAt(utcMs: number, timeZone: string): number {
  const { date, time } = toLocal(new Date(utcMs), timeZone);
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = time.split(':').map(Number) as [number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(utcMs / 1000) * 1000;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;
const RU = /^(\d{2})\.(\d{2})\.(\d{4})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * Reads a local date-time as 1C writes it (`2007-10-16 15:44:47`, `2007-10-16T15:44:47`, `2007-10-16`,
 * `16.10.2007 15:44:47`) in the zone. Empty text and 1C's empty date `T` give null; anything else
 * that is not a date gives undefined so the caller can report it.
 */
export function parseLocal(text: string, timeZone: string): Date | null | undefined {
  const v = text.trim();
  if (v === '' || v === 'T' || v === '0001-01-01T00:00:00' || v === '0001-01-01 00:00:00' || v === '0001-01-01') return null;
  let y: number, mo: number, d: number, h = 0, mi = 0, s = 0;
  let m = ISO.exec(v);
  if (m) {
    [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (m[4] !== undefined) [h, mi, s] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  } else if ((m = RU.exec(v))) {
    [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (m[4] !== undefined) [h, mi, s] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  } else {
    return undefined;
  }
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(wall);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  // Wall time minus the zone's offset; a second pass settles instants next to a DST switch.
  let utc = wall - offsetAt(wall, timeZone);
  utc = wall - offsetAt(utc, timeZone);
  return new Date(utc);
}
