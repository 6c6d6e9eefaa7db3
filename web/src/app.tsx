import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { ApiClient } from './api/api.client.js';
import type { Project, PublicUser } from './api/types.js';
import { AppContext, type AppContextValue } from './app.context.js';
import { AppHeader } from './components/app-header.js';
import { Loading } from './components/notice.js';
import { ToastRegion } from './components/toast-region.js';
import { preferences } from './hooks/use-preferences.js';
import { useNavigation } from './hooks/use-navigation.js';
import { errorMessage } from './lib/api-error.js';
import { defaultProject } from './lib/project-order.js';
import { isPublic, type Route } from './lib/route.parser.js';
import { toastsReducer, type ToastInput } from './lib/toasts.reducer.js';
import { AccountView } from './views/account.view.js';
import { AdminView } from './views/admin.view.js';
import { LoginView, RegisterView } from './views/auth.view.js';
import { ProjectScope } from './views/project-scope.js';

type Session = { status: 'checking' } | { status: 'signed-out' } | { status: 'signed-in'; user: PublicUser };

export function App() {
  const { route, navigate } = useNavigation();
  const [toasts, dispatchToast] = useReducer(toastsReducer, []);
  const nextToastId = useRef(1);
  const push = useCallback((t: ToastInput) => dispatchToast({ type: 'add', toast: { ...t, id: nextToastId.current++ } }), []);
  const fail = useCallback((title: string, err: unknown) => push({ kind: 'error', title, message: errorMessage(err) }), [push]);
  // A toast's button runs a request too; its failure becomes the next toast instead of an unhandled rejection.
  const toast = useCallback(
    (t: ToastInput) => {
      const action = t.action;
      if (!action) return push(t);
      const run = async () => {
        try {
          await action.run();
        } catch (err) {
          fail(`${action.label} failed`, err);
        }
      };
      push({ ...t, action: { label: action.label, run } });
    },
    [push, fail],
  );
  const dismiss = useCallback((id: number) => dispatchToast({ type: 'dismiss', id }), []);

  const [session, setSession] = useState<Session>(() => (preferences.signedIn() ? { status: 'checking' } : { status: 'signed-out' }));
  const [projects, setProjects] = useState<Project[]>([]);
  const [projectsLoaded, setProjectsLoaded] = useState(false);
  /** Where a signed-out visitor was heading, to continue there after signing in. */
  const returnTo = useRef<Route | null>(null);

  const expire = useRef(() => {});
  expire.current = () => {
    if (session.status !== 'signed-in') return;
    preferences.setSignedIn(false);
    setSession({ status: 'signed-out' });
    toast({ kind: 'warning', title: 'Signed out', message: 'Your session has ended. Sign in again to continue.' });
  };
  const api = useMemo(() => new ApiClient(() => expire.current()), []);

  const reloadProjects = useCallback(async () => {
    const { items } = await api.listProjects();
    setProjects(items);
    setProjectsLoaded(true);
    return items;
  }, [api]);

  const signedIn = useCallback((user: PublicUser) => {
    preferences.setSignedIn(true);
    setProjectsLoaded(false);
    setSession({ status: 'signed-in', user });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      preferences.setSignedIn(false);
      setSession({ status: 'signed-out' });
      setProjects([]);
      returnTo.current = null;
      navigate({ name: 'login' });
    }
  }, [api, navigate]);

  useEffect(() => {
    if (session.status !== 'checking') return;
    let current = true;
    api.me().then(
      (user) => current && signedIn(user),
      () => {
        if (!current) return;
        preferences.setSignedIn(false);
        setSession({ status: 'signed-out' });
      },
    );
    return () => {
      current = false;
    };
  }, [api, session.status, signedIn]);

  const userId = session.status === 'signed-in' ? session.user.id : null;
  useEffect(() => {
    if (!userId) return;
    reloadProjects().catch((err: unknown) => fail('Could not load your projects', err));
  }, [userId, reloadProjects, fail]);

  // Signed-out visitors land on sign-in; signed-in ones skip it.
  useEffect(() => {
    if (session.status === 'signed-out' && !isPublic(route)) {
      if (route.name !== 'home') returnTo.current = route;
      navigate({ name: 'login' }, { replace: true });
    } else if (session.status === 'signed-in' && isPublic(route)) {
      const next = returnTo.current ?? { name: 'home' as const };
      returnTo.current = null;
      navigate(next, { replace: true });
    }
  }, [session.status, route, navigate]);

  useEffect(() => {
    if (route.name !== 'home' || session.status !== 'signed-in' || !projectsLoaded) return;
    const target = defaultProject(projects, preferences.lastProject());
    if (target) navigate({ name: 'project', projectId: target.id }, { replace: true });
  }, [route.name, session.status, projects, projectsLoaded, navigate]);

  const routeProject = 'projectId' in route ? route.projectId : null;
  useEffect(() => {
    if (routeProject) preferences.setLastProject(routeProject);
  }, [routeProject]);

  const ctx: AppContextValue = {
    api,
    route,
    navigate,
    toast,
    fail,
    user: session.status === 'signed-in' ? session.user : null,
    signedIn,
    signOut,
    projects,
    projectsLoaded,
    reloadProjects,
  };

  return (
    <AppContext.Provider value={ctx}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      {session.status === 'signed-in' ? <AppHeader /> : null}
      <main id="main" tabIndex={-1} className={session.status === 'signed-in' ? 'page' : 'page page-narrow'}>
        {session.status === 'checking' ? <Loading what="your session" /> : session.status === 'signed-out' ? <SignedOut route={route} /> : <SignedIn route={route} projectsLoaded={projectsLoaded} />}
      </main>
      <ToastRegion toasts={toasts} dismiss={dismiss} />
    </AppContext.Provider>
  );
}

function SignedOut({ route }: { route: Route }) {
  return route.name === 'register' ? <RegisterView /> : <LoginView />;
}

function SignedIn({ route, projectsLoaded }: { route: Route; projectsLoaded: boolean }) {
  switch (route.name) {
    case 'login':
    case 'register':
    case 'home':
      return projectsLoaded ? <NoProjects /> : <Loading what="your projects" />;
    case 'account':
      return <AccountView />;
    case 'admin':
      return <AdminView section={route.section} />;
    case 'project':
    case 'instance':
    case 'members':
    case 'audit':
      return <ProjectScope route={route} />;
    case 'not-found':
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>.
          </p>
        </section>
      );
  }
}

function NoProjects() {
  return (
    <section>
      <h1>No projects</h1>
      <p>You are not a member of any project yet. Create one from the project menu above, or ask a project owner to add you.</p>
    </section>
  );
}
