/**
 * The top frames of a V8 `.cpuprofile` (`node --cpu-prof`), by self time and by inclusive time,
 * aggregated by function and file (every line of a function together), as a markdown table.
 *
 *   npx tsx scripts/cpuprofile-top.ts FILE.cpuprofile [--top=25] [--from=S] [--to=S] [--timeline] [--only=apps/] [--lines]
 *
 * `--lines` keeps each function's line apart (two closures of one file). `--only=apps/` lists only the inclusive frames whose name or file contains it.
 * `--from`/`--to` keep only the samples between those seconds after the profile's start (e.g.
 * the capacity bench's run, between the resume and the last result); `--timeline` prints the
 * busy share of each second first, to find that window. Idle, GC and "(program)" are listed as
 * such. Inclusive time counts a frame once per sample however deep its recursion.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const opt = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
if (!file) throw new Error('usage: cpuprofile-top.ts FILE.cpuprofile [--top=25] [--from=S] [--to=S]');
const top = Number(opt('top') ?? 25);
const from = Number(opt('from') ?? 0) * 1e6;
const to = Number(opt('to') ?? Infinity) * 1e6;
const withLines = args.includes('--lines');

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const n of profile.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '~/')
    .replace(/^\/work\/[^/]+\//, '');
const keyOf = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  if (!url) return functionName || '(anonymous)';
  const line = withLines ? `:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${shortUrl(url)}${line}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const busyPerSecond: number[] = [];
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);
let total = 0;
let busy = 0;
let t = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const leaf = byId.get(profile.samples[i]!)!;
  const sec = Math.floor(t / 1e6);
  if (leaf.callFrame.functionName !== '(idle)') busyPerSecond[sec] = (busyPerSecond[sec] ?? 0) + dt;
  if (t < from || t > to) continue;
  total += dt;
  if (leaf.callFrame.functionName !== '(idle)') busy += dt;
  const leafKey = keyOf(leaf);
  self.set(leafKey, (self.get(leafKey) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const k = keyOf(byId.get(id)!);
    if (seen.has(k) || k === '(root)') continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
}

if (args.includes('--timeline')) {
  console.log('second: busy %');
  console.log(busyPerSecond.map((us, s) => `${s}:${Math.round((us ?? 0) / 1e4)}`).join(' '));
}
const ms = (us: number) => (us / 1000).toFixed(0);
const pct = (us: number) => `${((100 * us) / Math.max(busy, 1)).toFixed(1)} %`;
console.log(`window ${ms(total)} ms, busy (not idle) ${ms(busy)} ms; shares below are of the busy time\n`);
const table = (title: string, m: Map<string, number>, skipIdle: boolean) => {
  console.log(`| ${title} | ms | share |\n| --- | --- | --- |`);
  const rows = [...m].filter(([k]) => !(skipIdle && IDLE.has(k))).sort((a, b) => b[1] - a[1]);
  for (const [k, us] of rows.slice(0, top)) console.log(`| \`${k}\` | ${ms(us)} | ${pct(us)} |`);
  console.log('');
};
table('self time', new Map([...self].filter(([k]) => k !== '(idle)')), false);
const only = opt('only');
table(
  only ? `inclusive time (frames in ${only})` : 'inclusive time',
  only ? new Map([...inclusive].filter(([k]) => k.includes(only))) : inclusive,
  true,
);
