/** The address an alias answers on: the instance's own URL with the first label swapped. */
export function aliasUrl(instanceUrl: string, alias: string): string {
  const u = new URL(instanceUrl);
  u.hostname = [alias, ...u.hostname.split('.').slice(1)].join('.');
  return u.origin;
}

