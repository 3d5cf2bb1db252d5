/**
 * A child process of simulated volunteers (bench/sim/volunteer-swarm.ts) driven over IPC: used by
 * the capacity and scale sections.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../scripts/assets';

export interface Swarm {
  child: ChildProcess;
  request<T>(msg: object, replyType: string): Promise<T>;
}

/** `count` peers on `url`'s `/volunteer`, ids `prefix-i`, each answering after `delayMs`. */
export function startSwarm(url: string, count: number, prefix: string, delayMs: number): Swarm {
  const child = fork('bench/sim/volunteer-swarm.ts', [url, String(count), prefix, String(delayMs)], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    request<T>(msg: object, replyType: string) {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (m: unknown) => {
          if ((m as { type?: string }).type !== replyType) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m as T);
        };
        const onExit = (code: number | null) => reject(new Error(`volunteer swarm exited with ${code}`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(msg);
      });
    },
  };
}

/** Asks every swarm to close its peers; kills it after 5 s. */
export async function stopSwarms(swarms: readonly Swarm[]): Promise<void> {
  await Promise.all(
    swarms.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null) return resolve();
          s.child.once('exit', () => resolve());
          s.child.send({ type: 'close' });
          setTimeout(() => {
            s.child.kill('SIGKILL');
            resolve();
          }, 5000).unref();
        }),
    ),
  );
}
