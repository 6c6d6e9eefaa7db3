import { useCallback, useEffect, useState } from 'react';
import { parseRoute, routePath, type Route } from '../lib/route.parser.js';

export type Navigate = (to: Route, opts?: { replace?: boolean }) => void;

/** The current route from the address bar, kept in step with back/forward and in-app navigation. */
export function useNavigation(): { route: Route; navigate: Navigate } {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback<Navigate>((to, opts = {}) => {
    const path = routePath(to);
    if (path !== window.location.pathname) {
      if (opts.replace) window.history.replaceState(null, '', path);
      else window.history.pushState(null, '', path);
    }
    setRoute(parseRoute(path));
    if (!opts.replace) window.scrollTo(0, 0);
  }, []);
  return { route, navigate };
}
