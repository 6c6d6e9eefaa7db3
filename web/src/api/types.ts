/**
 * The dashboard's view of the API, taken from the server's own DTOs so a change there breaks the
 * dashboard's type check instead of the running page. Type-only: no server code is bundled.
 */
export type { Instance, InstanceStatus, CreateInstanceInput, UpdateInstanceInput } from '../../../src/instances/instance.service.js';
export type { InstanceState } from '../../../src/instances/instance.repository.js';
export type { Template } from '../../../src/instances/template.service.js';
export type { TemplateDefinition } from '../../../src/instances/templates.builtin.js';
export type { LogLine } from '../../../src/drivers/instance-driver.js';
export type { Project, Member } from '../../../src/identity/project.service.js';
export type { Role } from '../../../src/identity/project.repository.js';
export type { PublicUser, ApiToken, NewUser } from '../../../src/identity/auth.service.js';
export type { AuditEntry, AuditQuery } from '../../../src/audit/audit.service.js';
export type { MqttClientInfo } from '../../../src/mqtt/mqtt-auth.service.js';
export type { Snapshot, SnapshotInput, ApplyResult, SnapshotDiff } from '../../../src/snapshots/snapshot.service.js';
export type { Backup, BackupSchedule } from '../../../src/backups/backup.service.js';

export interface Items<T> {
  items: T[];
}
