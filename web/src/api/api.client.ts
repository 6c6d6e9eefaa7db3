import { ApiError, networkError, toApiError } from '../lib/api-error.js';
import type {
  ApiToken,
  ApplyResult,
  Backup,
  BackupSchedule,
  AuditEntry,
  AuditQuery,
  CreateInstanceInput,
  Instance,
  InstanceStatus,
  Items,
  LogLine,
  Member,
  MqttClientInfo,
  NewUser,
  Project,
  PublicUser,
  Role,
  Snapshot,
  SnapshotDiff,
  SnapshotInput,
  Template,
  TemplateDefinition,
  UpdateInstanceInput,
} from './types.js';

export interface Aliases {
  items: string[];
  restartNeeded: boolean;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * The one way the dashboard talks to the manager: JSON over fetch with the session cookie, every
 * failure turned into an ApiError. A 401 outside the sign-in calls means the session ended.
 */
export class ApiClient {
  constructor(
    private readonly onUnauthorized: () => void,
    private readonly fetchFn: typeof fetch = (...args) => fetch(...args),
  ) {}

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(path, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw networkError();
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const err = toApiError(res.status, parsed);
      if (res.status === 401 && !path.startsWith('/api/auth/')) this.onUnauthorized();
      throw err;
    }
    return parsed as T;
  }

  /** Like request, but a route the manager does not have yet comes back as null instead of an error. */
  async optional<T>(method: Method, path: string, body?: unknown): Promise<T | null> {
    try {
      return await this.request<T>(method, path, body);
    } catch (err) {
      if (err instanceof ApiError && err.routeMissing) return null;
      throw err;
    }
  }

  // Identity
  register = (input: NewUser) => this.request<PublicUser>('POST', '/api/auth/register', input);
  login = (email: string, password: string) => this.request<PublicUser>('POST', '/api/auth/login', { email, password });
  logout = () => this.request<{ ok: boolean }>('POST', '/api/auth/logout');
  me = () => this.request<PublicUser>('GET', '/api/me');
  listUsers = () => this.request<Items<PublicUser>>('GET', '/api/admin/users');
  createUser = (input: NewUser & { isAdmin?: boolean }) => this.request<PublicUser>('POST', '/api/admin/users', input);
  listTokens = () => this.request<Items<ApiToken>>('GET', '/api/tokens');
  createToken = (name: string) => this.request<ApiToken & { token: string }>('POST', '/api/tokens', { name });
  revokeToken = (id: string) => this.request<null>('DELETE', `/api/tokens/${id}`);

  // Projects
  listProjects = () => this.request<Items<Project> & { total: number }>('GET', '/api/projects?limit=500');
  createProject = (name: string) => this.request<Project>('POST', '/api/projects', { name });
  getProject = (id: string) => this.request<Project>('GET', `/api/projects/${id}`);
  renameProject = (id: string, name: string) => this.request<Project>('PATCH', `/api/projects/${id}`, { name });
  deleteProject = (id: string) => this.request<null>('DELETE', `/api/projects/${id}`);
  listMembers = (id: string) => this.request<Items<Member>>('GET', `/api/projects/${id}/members`);
  addMember = (id: string, email: string, role: Role) => this.request<Member>('POST', `/api/projects/${id}/members`, { email, role });
  setMemberRole = (id: string, userId: string, role: Role) => this.request<Member>('PATCH', `/api/projects/${id}/members/${userId}`, { role });
  removeMember = (id: string, userId: string) => this.request<null>('DELETE', `/api/projects/${id}/members/${userId}`);

  // Templates
  listTemplates = () => this.request<Items<Template>>('GET', '/api/templates');
  createTemplate = (t: TemplateDefinition) => this.request<{ id: string }>('POST', '/api/templates', t);

  // Instances
  listInstances = (projectId: string) => this.request<Items<Instance>>('GET', `/api/projects/${projectId}/instances`);
  createInstance = (projectId: string, input: CreateInstanceInput) => this.request<Instance>('POST', `/api/projects/${projectId}/instances`, input);
  getInstance = (id: string) => this.request<Instance>('GET', `/api/instances/${id}`);
  updateInstance = (id: string, input: UpdateInstanceInput) => this.request<Instance & { restartNeeded: boolean }>('PATCH', `/api/instances/${id}`, input);
  deleteInstance = (id: string) => this.request<null>('DELETE', `/api/instances/${id}`);
  lifecycle = (id: string, op: 'start' | 'stop' | 'restart') => this.request<Instance>('POST', `/api/instances/${id}/${op}`);
  status = (id: string) => this.request<InstanceStatus>('GET', `/api/instances/${id}/status`);
  logs = (id: string, limit = 500) => this.request<Items<LogLine>>('GET', `/api/instances/${id}/logs?limit=${limit}`);
  launch = (id: string) => this.request<{ url: string; expiresAt: string }>('POST', `/api/instances/${id}/launch`);
  addAlias = (id: string, alias: string) => this.request<Aliases>('POST', `/api/instances/${id}/aliases`, { alias });
  removeAlias = (id: string, alias: string) => this.request<Aliases>('DELETE', `/api/instances/${id}/aliases/${encodeURIComponent(alias)}`);

  // Snapshots
  listSnapshots = (instanceId: string) => this.optional<Items<Snapshot> & { total: number }>('GET', `/api/instances/${instanceId}/snapshots?limit=200`);
  createSnapshot = (instanceId: string, input: SnapshotInput) => this.request<Snapshot>('POST', `/api/instances/${instanceId}/snapshots`, input);
  applySnapshot = (snapshotId: string, instanceId: string) => this.request<ApplyResult>('POST', `/api/snapshots/${snapshotId}/apply`, { instanceId });
  diffSnapshot = (snapshotId: string, instanceId: string) => this.request<SnapshotDiff>('GET', `/api/snapshots/${snapshotId}/diff?against=current&instanceId=${instanceId}`);
  deleteSnapshot = (snapshotId: string) => this.request<null>('DELETE', `/api/snapshots/${snapshotId}`);

  // Backups
  listBackups = (instanceId: string) => this.optional<Items<Backup>>('GET', `/api/instances/${instanceId}/backups`);
  getBackup = (backupId: string) => this.request<Backup>('GET', `/api/backups/${backupId}`);
  createBackup = (instanceId: string) => this.request<Backup>('POST', `/api/instances/${instanceId}/backups`);
  restoreBackup = (backupId: string) => this.request<Backup>('POST', `/api/backups/${backupId}/restore`);
  deleteBackup = (backupId: string) => this.request<null>('DELETE', `/api/backups/${backupId}`);
  backupDownloadUrl = (backupId: string) => `/api/backups/${backupId}/download`;
  getBackupSchedule = (instanceId: string) => this.optional<BackupSchedule>('GET', `/api/instances/${instanceId}/backup-schedule`);
  setBackupSchedule = (instanceId: string, input: { cron?: string; enabled?: boolean; retention?: number }) => this.request<BackupSchedule>('PUT', `/api/instances/${instanceId}/backup-schedule`, input);

  // MQTT
  listMqttClients = (projectId: string) => this.optional<Items<MqttClientInfo> & { brokerUrl: string }>('GET', `/api/projects/${projectId}/mqtt-clients`);
  createMqttClient = (projectId: string, description: string) => this.request<MqttClientInfo & { password: string }>('POST', `/api/projects/${projectId}/mqtt-clients`, { description });
  revokeMqttClient = (projectId: string, clientId: string) => this.request<null>('DELETE', `/api/projects/${projectId}/mqtt-clients/${clientId}`);

  // Audit
  audit = (query: AuditQuery) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.request<Items<AuditEntry> & { nextCursor: string | null }>('GET', `/api/audit?${qs}`);
  };
}
