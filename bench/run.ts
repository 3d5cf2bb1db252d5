/**
 * `npm run bench` — performance figures for Tabgrid on this machine; writes bench/results.json.
 *
 *   npm run bench                  full run (a few minutes)
 *   npm run bench -- --quick       tiny scale, well under a minute of measuring
 *   npm run bench -- --only=capacity,node-inference   some sections
 *   TABGRID_BENCH_VERIFY=1 npm run bench -- --only=capacity   capacity with verification on (honest volunteers)
 *   TABGRID_BENCH_REDIS=1 npm run bench -- --only=capacity    capacity on one Redis gateway (private redis-server)
 *   TABGRID_BENCH_SERVER_DIR=../other-checkout …   the bench servers run that checkout's code (before/after)
 *   npm run bench -- --only=adversarial   liars against verification (opt-in, about 20 min)
 *   TABGRID_BENCH_ADVERSARIAL=long npm run bench -- --only=adversarial   the same with 4 agents and 800
 *     photos: the overhead once trusted past the trust ramp (steady state; _AGENTS / _PHOTOS override)
 *   npm run bench -- --only=scale  1 gateway SQLite vs 1 gateway Redis vs 3 gateways Redis (docs/SCALING.md)
 *   Opt-in probes (bench/probes/, never in the default run; figures in docs/PERFORMANCE.md, docs/SECURITY.md):
 *   npm run bench -- --only=lone-volunteer   a lone new volunteer's photo, upload -> final (V5)
 *   npm run bench -- --only=edges            front-door attacks from one address (issue 17 E/G)
 *   npm run bench -- --only=upload-memory    junk uploads against server RSS (issue 17 F; ~2 GB written)
 *   npm run bench -- --only=sqlite-path      CPU per task of offer + ack + result + credit on SQLite
 *   npm run bench -- --only=join-burst       N volunteers join a full queue in one turn: the longest loop stall
 *   npm run bench -- --only=swarm            issue 18's swarm goal: 2,000 honest volunteers, 20,000 tasks, verification on
 *   npm run bench -- --only=idle-memory      server memory per idle volunteer connection (1,000 and 5,000)
 *   npm run bench -- --port=8899 --out=path.json
 */
import path from 'node:path';
import { REPO_ROOT } from '../scripts/assets';
import { DEFAULT_SECTIONS, render, runBench, SECTIONS, type Section } from './lib/bench';

function arg(name: string): string | undefined {
  const hit = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
}

async function main(): Promise<void> {
  const only = arg('only');
  const sections = only ? (only.split(',') as Section[]) : [...DEFAULT_SECTIONS];
  const unknown = sections.filter((s) => !SECTIONS.includes(s));
  if (unknown.length > 0)
    throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
  const out = path.resolve(REPO_ROOT, arg('out') || 'bench/results.json');
  const results = await runBench({
    quick: arg('quick') !== undefined,
    sections,
    port: Number(arg('port') || 8899),
    out,
  });
  console.log(
    `\n${render(results)}\n\nwrote ${path.relative(process.cwd(), out)} (${results.meta.durationSeconds} s)`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
