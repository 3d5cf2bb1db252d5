// Worker entry: registers tsx (TypeScript and the tsconfig `paths`) in this thread, then loads
// the TypeScript worker. Plain JS so that it runs in any worker, with or without a TS loader.
import { register } from 'tsx/esm/api';

register();
await import('./referee-worker.ts');
