/** Running a command action: errors become a message and an exit code. */
import { PowerCut, PstoreError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/** Wrap an action so a PstoreError prints its message (and code) and sets the exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => void | number | Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const rc = await fn(...args);
      if (typeof rc === 'number') process.exitCode = rc;
    } catch (e) {
      if (e instanceof PstoreError) {
        process.stderr.write(`mtdpstore: error: ${e.message} [${e.code}]\n`);
        process.exitCode = exitCodeFor(e);
      } else if (e instanceof PowerCut) {
        process.stderr.write(`mtdpstore: error: ${e.message}\n`);
        process.exitCode = EXIT.FAILED;
      } else {
        process.stderr.write(`mtdpstore: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
        process.exitCode = EXIT.INTERNAL;
      }
    }
  };
}
