import './lib/zodConfig';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, routeFor } from './App';
import { askDashboardEarly } from './lib/api';
import { captureKeyFromFragment } from './lib/apiKey';
import './styles.css';

// A sign-in link (`/#key=…`): keep the key, take it out of the address bar, before anything renders.
captureKeyFromFragment();
// The dashboard's first questions go out now, while its code loads.
if (routeFor(location.pathname).path === '/dashboard') askDashboardEarly();

const root = document.getElementById('root');
if (!root) throw new Error('#root missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
