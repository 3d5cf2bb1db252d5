/**
 * Opt-in bench sections (`npm run bench -- --only=<name>`), each a focused measurement re-run by
 * hand when the code it measures changes; none runs in the default `npm run bench`. Their figures
 * are quoted in docs/PERFORMANCE.md and docs/SECURITY.md.
 */
import { edgesAttacks, renderEdges, type EdgesResult } from './edges-attacks';
import { idleMemory, renderIdleMemory, type IdleMemoryRound } from './idle-memory';
import { joinBurst, renderJoinBurst, type JoinBurstRound } from './join-burst';
import { loneVolunteer, renderLoneVolunteer, type LoneVolunteerResult } from './lone-volunteer';
import { renderSqlitePath, sqlitePath, type SqlitePathResult } from './sqlite-path';
import { renderSwarm, swarmGoal, type SwarmRound } from './swarm';
import { renderTabAcks, tabAcks, type TabAcksResult } from './tab-acks';
import { renderUploadMemory, uploadMemory, type UploadMemoryScenario } from './upload-memory';

export const PROBE_SECTIONS = [
  'lone-volunteer',
  'edges',
  'upload-memory',
  'sqlite-path',
  'join-burst',
  'swarm',
  'idle-memory',
  'tab-acks',
] as const;
export type ProbeSection = (typeof PROBE_SECTIONS)[number];

export interface ProbeResults {
  'lone-volunteer'?: LoneVolunteerResult;
  edges?: EdgesResult;
  'upload-memory'?: UploadMemoryScenario[];
  'sqlite-path'?: SqlitePathResult;
  'join-burst'?: JoinBurstRound[];
  swarm?: SwarmRound[];
  'idle-memory'?: IdleMemoryRound[];
  'tab-acks'?: TabAcksResult;
}

export interface ProbeOptions {
  quick: boolean;
  /** A port the section may use for its own server. */
  port: number;
}

/** Runs one section and stores its result in `into`. */
export async function runProbe(section: ProbeSection, o: ProbeOptions, into: ProbeResults): Promise<void> {
  switch (section) {
    case 'lone-volunteer':
      into[section] = await loneVolunteer(o.quick ? 1 : 4);
      return;
    case 'edges':
      into[section] = await edgesAttacks(o.quick);
      return;
    case 'upload-memory':
      into[section] = await uploadMemory(o.quick, o.port);
      return;
    case 'sqlite-path':
      into[section] = await sqlitePath(o.quick);
      return;
    case 'join-burst':
      into[section] = await joinBurst(o.quick);
      return;
    case 'swarm':
      into[section] = await swarmGoal(o.quick, o.port);
      return;
    case 'idle-memory':
      into[section] = await idleMemory(o.quick, o.port);
      return;
    case 'tab-acks':
      into[section] = await tabAcks(o.quick, o.port);
      return;
  }
}

export function renderProbes(r: ProbeResults): string[] {
  const out: string[] = [];
  if (r['lone-volunteer']) out.push(...renderLoneVolunteer(r['lone-volunteer']), '');
  if (r.edges) out.push(...renderEdges(r.edges), '');
  if (r['upload-memory']) out.push(...renderUploadMemory(r['upload-memory']), '');
  if (r['sqlite-path']) out.push(...renderSqlitePath(r['sqlite-path']), '');
  if (r['join-burst']) out.push(...renderJoinBurst(r['join-burst']), '');
  if (r.swarm) out.push(...renderSwarm(r.swarm), '');
  if (r['idle-memory']) out.push(...renderIdleMemory(r['idle-memory']), '');
  if (r['tab-acks']) out.push(...renderTabAcks(r['tab-acks']), '');
  return out;
}
