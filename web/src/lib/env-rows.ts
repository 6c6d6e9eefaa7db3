export interface EnvRow {
  key: string;
  value: string;
}

export function rowsFromEnv(env: Record<string, string>): EnvRow[] {
  return Object.entries(env)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

/**
 * The environment the rows describe. Blank rows are ignored; a value without a name or a name given
 * twice is a mistake worth stopping for. Name rules themselves are the server's to judge.
 */
export function envFromRows(rows: EnvRow[]): { env: Record<string, string>; problem: string | null } {
  const env: Record<string, string> = {};
  for (const [index, row] of rows.entries()) {
    const key = row.key.trim();
    if (key === '' && row.value === '') continue;
    if (key === '') return { env, problem: `Row ${index + 1} has a value but no name` };
    if (Object.hasOwn(env, key)) return { env, problem: `${key} is set twice` };
    env[key] = row.value;
  }
  return { env, problem: null };
}
