import type { AuditRow } from './audit.repository.js';

const VERBS: Record<string, string> = {
  'auth.register': 'registered',
  'auth.login': 'signed in',
  'auth.logout': 'signed out',
  'user.create': 'created user',
  'token.create': 'created API token',
  'token.revoke': 'revoked API token',
  'project.create': 'created project',
  'project.update': 'updated project',
  'project.delete': 'deleted project',
  'project.member.add': 'added a member to',
  'project.member.remove': 'removed a member from',
  'project.member.role': 'changed a member role in',
  'project.transfer': 'transferred ownership of',
  'template.create': 'registered template',
  'instance.create': 'created instance',
  'instance.update': 'updated instance',
  'instance.start': 'started instance',
  'instance.stop': 'stopped instance',
  'instance.restart': 'restarted instance',
  'instance.delete': 'deleted instance',
  'instance.crash': 'saw a crash of instance',
  'instance.alias.add': 'added an alias to',
  'instance.alias.remove': 'removed an alias from',
  'instance.launch': 'opened the editor of',
  'instance.token.rotate': 'rotated the editor token of',
  'mqtt.client.create': 'created MQTT client',
  'mqtt.client.revoke': 'revoked MQTT client',
  'snapshot.create': 'captured snapshot',
  'snapshot.apply': 'applied snapshot',
  'snapshot.delete': 'deleted snapshot',
  'backup.create': 'backed up',
  'backup.restore': 'restored backup',
  'backup.delete': 'deleted backup',
  'backup.schedule': 'changed the backup schedule of',
  'settings.update': 'changed platform setting',
};

/** A deterministic one-line sentence for any audit row, available with no LLM configured. */
export function describeAudit(r: Pick<AuditRow, 'actor_label' | 'action' | 'target_type' | 'target_label' | 'target_id' | 'outcome' | 'error_code'>): string {
  const who = r.actor_label ?? 'The platform';
  const verb = VERBS[r.action] ?? r.action;
  const what = r.target_label ?? r.target_id ?? '';
  const sentence = `${who} ${verb}${what ? ` ${what}` : ''}`.trim();
  if (r.outcome === 'failure') return `${who} tried to ${r.action} ${what}`.trim() + ` but it failed (${r.error_code ?? 'error'}).`;
  return `${sentence}.`;
}
