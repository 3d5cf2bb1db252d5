import './lib/zodConfig';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { captureKeyFromFragment } from './lib/apiKey';
import './styles.css';

// A sign-in link (`/#key=…`): keep the key, take it out of the address bar, before anything renders.
captureKeyFromFragment();

const root = document.getElementById('root');
if (!root) throw new Error('#root missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
