import { DashboardPage } from './features/dashboard/DashboardPage';
import { LivePage } from './features/live/LivePage';
import { VolunteerPage } from './features/volunteer/VolunteerPage';

const ROUTES = [
  { path: '/dashboard', label: 'Dashboard', page: DashboardPage },
  { path: '/volunteer', label: 'Volunteer', page: VolunteerPage },
  { path: '/live', label: 'Live', page: LivePage },
] as const;

function routeFor(pathname: string) {
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
        <Page />
      </main>
    </>
  );
}
