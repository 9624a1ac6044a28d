/**
 * How the supervisor shows its children's lines on a terminal: a pino JSON record becomes
 * `12:00:01.234 INFO  [relay] relay lag broker=kafka lagEvents=0`, coloured by level (unless NO_COLOR is
 * set); any other line is kept as it is behind its prefix. Piped or redirected output stays JSON
 * lines (see printLine in supervisor.ts), for log collectors.
 */

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '36' },
  30: { label: 'INFO', color: '32' },
  40: { label: 'WARN', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '35' },
};
const NAME_COLORS = ['34', '35', '36', '32', '33', '94', '95', '96'];
// pino's own fields, and the ones every line of a process repeats (the prefix says who wrote it).
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'name', 'v']);

const paint = (color: boolean, code: string, text: string): string => (color ? `\u001b[${code}m${text}\u001b[0m` : text);

function nameColor(name: string): string {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return NAME_COLORS[hash % NAME_COLORS.length]!;
}

function time(value: unknown): string {
  const date = typeof value === 'number' || typeof value === 'string' ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(11, 23) : '';
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

type LogRecord = Record<string, unknown> & { level: number };

function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { level?: unknown }).level === 'number') return parsed as LogRecord;
  } catch {
    // Not JSON after all: shown as it is.
  }
  return undefined;
}

export function formatConsoleLine(name: string, line: string, options: { color: boolean }): string {
  const { color } = options;
  const prefix = paint(color, nameColor(name), `[${name}]`);
  const record = parseRecord(line);
  if (!record) return `${prefix} ${line}`;
  const level = LEVELS[record.level] ?? { label: `L${record.level}`, color: '37' };
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED.has(key) || value === undefined) continue;
    // A serialized error: its message inline, its stack on the lines below.
    if (typeof value === 'object' && value !== null && typeof (value as { stack?: unknown }).stack === 'string') {
      const err = value as { message?: unknown; stack: string };
      fields.push(`${key}=${fieldText(err.message ?? '')}`);
      stack ??= err.stack;
      continue;
    }
    fields.push(`${paint(color, '90', `${key}=`)}${fieldText(value)}`);
  }
  const message = typeof record.msg === 'string' ? record.msg : '';
  const head = [paint(color, '90', time(record.time)), paint(color, level.color, level.label.padEnd(5)), prefix, message, ...fields]
    .filter((part) => part !== '')
    .join(' ');
  return stack ? `${head}\n${stack.split('\n').map((l) => `${prefix}   ${l}`).join('\n')}` : head;
}
