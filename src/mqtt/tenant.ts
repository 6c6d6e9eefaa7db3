/**
 * A project's MQTT mountpoint is `ff/<projectId>/`. The prefix is literal in topic filters, so the id itself must not
 * be able to widen or escape it: no level separator, no wildcard, no NUL (forbidden in MQTT strings), and no leading
 * `$` (brokers treat `$`-topics specially).
 */
const TENANT_PREFIX = 'ff/';

function isValidProjectId(projectId: string): boolean {
  return projectId.length > 0 && !projectId.startsWith('$') && !/[/+#\0]/.test(projectId);
}

export function tenantFor(projectId: string): string {
  if (!isValidProjectId(projectId)) {
    throw new Error(`project id ${JSON.stringify(projectId)} cannot be used as an MQTT mountpoint`);
  }
  return `${TENANT_PREFIX}${projectId}/`;
}

export function isValidTenant(tenant: string): boolean {
  return (
    tenant.startsWith(TENANT_PREFIX) &&
    tenant.endsWith('/') &&
    isValidProjectId(tenant.slice(TENANT_PREFIX.length, -1))
  );
}
