import { lazy, Suspense } from 'react';

/**
 * Each page is its own chunk, loaded for its route only: the dashboard does not parse the live
 * wall's charts or the volunteer's worker plumbing before its first job card.
 */
const ROUTES = [
  {
    path: '/dashboard',
    label: 'Dashboard',
    page: lazy(() =>
      import('./features/dashboard/DashboardPage').then((m) => ({ default: m.DashboardPage })),
    ),
  },
  {
    path: '/volunteer',
    label: 'Volunteer',
    page: lazy(() =>
      import('./features/volunteer/VolunteerPage').then((m) => ({ default: m.VolunteerPage })),
    ),
  },
  {
    path: '/live',
    label: 'Live',
    page: lazy(() => import('./features/live/LivePage').then((m) => ({ default: m.LivePage }))),
  },
] as const;

export function routeFor(pathname: string) {
  const clean = pathname.replace(/\/+$/, '') || '/';
  return ROUTES.find((r) => r.path === clean) ?? ROUTES[0];
}

/** Routing by pathname (the server answers every page path with index.html); links are plain page loads. */
export function App() {
  const route = routeFor(location.pathname);
  const Page = route.page;
  return (
    <>
      <nav className="nav">
        <a className="nav__brand" href="/">
          Tabgrid
        </a>
        {ROUTES.map((r) => (
          <a key={r.path} href={r.path} aria-current={r === route ? 'page' : undefined}>
            {r.label}
          </a>
        ))}
      </nav>
      <main>
        <Suspense fallback={null}>
          <Page />
        </Suspense>
      </main>
    </>
  );
}
