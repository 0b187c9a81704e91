// Worker threads do not get the TypeScript loader of the parent on Node 20:
// register tsx in this thread, then load the real worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
