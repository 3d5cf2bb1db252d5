/**
 * zod's fast path compiles parsers with `new Function`, after probing whether
 * eval is allowed; under our CSP (no 'unsafe-eval') that probe alone is
 * reported as a violation. The web app parses small payloads: no JIT needed.
 * Imported first by main.tsx.
 */
import { z } from 'zod';

z.config({ jitless: true });
