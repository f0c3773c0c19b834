// Text from result files goes into the page only through these: every character that could open a
// tag, an attribute or an entity is escaped, so a model name cannot inject markup or script.
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number as the table shows it: exact when short, else 6 significant digits with the exact value on hover. */
export function numberHtml(n: number): string {
  const exact = String(n);
  if (exact.length <= 10) return exact;
  const short = Number(n.toPrecision(6)).toString();
  return short === exact ? exact : `<span title="${exact}">${escapeHtml(short)}</span>`;
}

/** Any JSON value as table-cell HTML: arrays of objects become a nested table, objects `key: value` lines. */
export function valueHtml(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return numberHtml(v);
  if (typeof v === 'string') return escapeHtml(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return v.map(valueHtml).join(', ');
    return tableHtml(v as Record<string, unknown>[], 'sub');
  }
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${escapeHtml(k)}: ${valueHtml(x)}`)
      .join('<br>');
  return escapeHtml(String(v));
}

/** Rows of objects as a table; the columns are the union of their keys, in order of first appearance;
 * rowClasses[i] is the CSS class of row i. */
export function tableHtml(
  rows: readonly Record<string, unknown>[],
  cls = 'records',
  rowClasses: readonly string[] = [],
): string {
  const cols = [...new Set(rows.flatMap((r) => (typeof r === 'object' && r !== null ? Object.keys(r) : [])))];
  const head = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows
    .map((r, i) => {
      const obj = typeof r === 'object' && r !== null ? r : { value: r };
      const rc = rowClasses[i];
      return `<tr${rc ? ` class="${escapeHtml(rc)}"` : ''}>${cols.map((c) => `<td>${valueHtml(obj[c])}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table class="${escapeHtml(cls)}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}
