import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from 'react';
import { useApp } from '../app.context.js';
import { routePath, type Route } from '../lib/route.parser.js';

interface LinkProps extends Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> {
  to: Route;
  children: ReactNode;
}

/** A real link (middle-click and copy work) that navigates in place on a plain click. */
export function Link({ to, children, onClick, ...rest }: LinkProps) {
  const { navigate } = useApp();
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={routePath(to)} onClick={handle} {...rest}>
      {children}
    </a>
  );
}
