import type { TaskView } from '@tabgrid/protocol';

/** How the dashboard says a done task's result was verified (PROTOCOL.md rule V8). */
export function verificationLabel(verification: TaskView['verification'], agreeing: number): string | null {
  switch (verification) {
    case 'replicated':
      return `verified: ${agreeing} volunteers agree`;
    case 'refereed':
      return `verified by the server (${agreeing} agreeing)`;
    case 'spot-checked':
      return `spot-checked (${agreeing} agreeing)`;
    case 'trusted':
      return 'from a trusted volunteer';
    default:
      return null;
  }
}
