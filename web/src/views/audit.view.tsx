import { useApp } from '../app.context.js';
import { AuditLog } from '../components/audit-log.js';
import { useLoad } from '../hooks/use-load.js';
import { useProject } from '../project.context.js';

export function AuditView() {
  const { api } = useApp();
  const { project } = useProject();
  const members = useLoad(() => api.listMembers(project.id), `members:${project.id}`);
  const actors = (members.data?.items ?? []).map((m) => ({ id: m.userId, name: m.name }));
  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <div>
          <h1 id="audit-title">Audit log</h1>
          <p className="muted">Everything that happened in {project.name}: who did what, and whether it worked.</p>
        </div>
      </div>
      <AuditLog key={project.id} projectId={project.id} actors={actors} />
    </section>
  );
}
