export const INSTANCE_TABS = ['overview', 'logs', 'settings', 'aliases', 'backups', 'mqtt'] as const;
export type InstanceTab = (typeof INSTANCE_TABS)[number];
export type AdminSection = 'users' | 'templates' | 'audit';

/** Every screen of the dashboard, addressable by URL so reloads and links keep their place. */
export type Route =
  | { name: 'login' }
  | { name: 'register' }
  | { name: 'home' }
  | { name: 'account' }
  | { name: 'project'; projectId: string }
  | { name: 'instance'; projectId: string; instanceId: string; tab: InstanceTab }
  | { name: 'members'; projectId: string }
  | { name: 'audit'; projectId: string }
  | { name: 'admin'; section: AdminSection }
  | { name: 'not-found'; path: string };

const ID = '([0-9A-Za-z-]{1,64})';
const PATTERNS: [RegExp, (m: string[]) => Route][] = [
  [/^\/login$/, () => ({ name: 'login' })],
  [/^\/register$/, () => ({ name: 'register' })],
  [/^\/$/, () => ({ name: 'home' })],
  [/^\/account$/, () => ({ name: 'account' })],
  [new RegExp(`^/projects/${ID}$`), (m) => ({ name: 'project', projectId: m[1]! })],
  [new RegExp(`^/projects/${ID}/members$`), (m) => ({ name: 'members', projectId: m[1]! })],
  [new RegExp(`^/projects/${ID}/audit$`), (m) => ({ name: 'audit', projectId: m[1]! })],
  [
    new RegExp(`^/projects/${ID}/instances/${ID}(?:/([a-z]+))?$`),
    (m) => {
      const tab = (m[3] ?? 'overview') as InstanceTab;
      return INSTANCE_TABS.includes(tab) ? { name: 'instance', projectId: m[1]!, instanceId: m[2]!, tab } : { name: 'not-found', path: m[0]! };
    },
  ],
  [/^\/admin(?:\/(users|templates|audit))?$/, (m) => ({ name: 'admin', section: (m[1] ?? 'users') as AdminSection })],
];

export function parseRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  for (const [re, make] of PATTERNS) {
    const m = re.exec(path);
    if (m) return make(Array.from(m));
  }
  return { name: 'not-found', path: pathname };
}

export function routePath(route: Route): string {
  switch (route.name) {
    case 'login':
      return '/login';
    case 'register':
      return '/register';
    case 'home':
      return '/';
    case 'account':
      return '/account';
    case 'project':
      return `/projects/${route.projectId}`;
    case 'members':
      return `/projects/${route.projectId}/members`;
    case 'audit':
      return `/projects/${route.projectId}/audit`;
    case 'instance':
      return `/projects/${route.projectId}/instances/${route.instanceId}${route.tab === 'overview' ? '' : `/${route.tab}`}`;
    case 'admin':
      return route.section === 'users' ? '/admin' : `/admin/${route.section}`;
    case 'not-found':
      return route.path;
  }
}

/** Routes a signed-out visitor may see; everything else sends them to sign in first. */
export function isPublic(route: Route): boolean {
  return route.name === 'login' || route.name === 'register';
}
