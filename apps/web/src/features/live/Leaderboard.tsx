import { z } from 'zod';

/**
 * A top-10 by display name, shown only when the server sends one: a `leaderboard`
 * array of `{displayName, credits}` on `live:stats` (from a server with a credit
 * ledger). Without it, nothing is rendered.
 */
const LeaderboardSchema = z.array(z.object({ displayName: z.string(), credits: z.number() })).max(100);

export type LeaderRow = z.infer<typeof LeaderboardSchema>[number];

export function leaderboardOf(stats: unknown): LeaderRow[] {
  const raw = (stats as { leaderboard?: unknown } | null)?.leaderboard;
  const parsed = LeaderboardSchema.safeParse(raw);
  return parsed.success ? [...parsed.data].sort((a, b) => b.credits - a.credits).slice(0, 10) : [];
}

export function Leaderboard({ rows }: { rows: LeaderRow[] }) {
  if (rows.length === 0) return null;
  return (
    <section className="leaderboard" aria-labelledby="leaderboard-title" data-testid="leaderboard">
      <h2 id="leaderboard-title">Top volunteers</h2>
      <ol>
        {rows.map((r) => (
          <li key={r.displayName}>
            <span>{r.displayName}</span> <span className="muted">{r.credits} credits</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
