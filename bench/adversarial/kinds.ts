/**
 * The kinds of scripted liar the adversarial suite runs (issue 7, section 5). Each is a real
 * process (`liar.ts`); most lie through a `Runner` under the shared volunteer client, the
 * protocol-level attacks (`replay`, `unassigned`, `takeover`) through a raw socket.io-client.
 */
export const LIAR_KINDS = [
  /** Random boxes with valid labels, inside the image: plausible, wrong. */
  'random',
  /** No detections at all, on every photo. */
  'empty',
  /** The detections it reported for the previous photo. */
  'copy',
  /** Answers each offer with a made-up result, then replays its earlier results. */
  'replay',
  /** Sends results for assignments it never held (other volunteers' and invented ids). */
  'unassigned',
  /** A box far outside the image: something the model cannot produce. */
  'impossible',
  /** Reports every photo as `undecodable`. */
  'undecodable',
  /** Acks and heartbeats, never answers. */
  'stall',
  /** Connects with a stolen volunteer id (an honest agent's), without its token. */
  'takeover',
  /**
   * Runs the real model and sends its answer tampered within the old rule (issue 17 B): uncertain
   * detections hidden, confident boxes shrunk to IoU 0.64 and scored 0.2 lower, 120 boxes under
   * 0.5 added. It agreed with the referee before agreement covered every shown detection.
   */
  'tamper',
  /** Honest (the real model) for its first results, then lies on a fraction of tasks. */
  'turncoat',
] as const;
export type LiarKind = (typeof LIAR_KINDS)[number];

/** Kinds that never tell the truth (the goals' "constant liars"). */
export const CONSTANT_KINDS: readonly LiarKind[] = LIAR_KINDS.filter(
  (k) => k !== 'turncoat' && k !== 'takeover',
);

/** What a liar process prints, one JSON object per stdout line (the suite reads them). */
export type LiarEvent =
  | { event: 'identity'; kind: LiarKind; volunteerId: string; displayName: string }
  /** A result (or failure report) the liar sent; `lie` is whether it knowingly lied. */
  | {
      event: 'sent';
      at: number;
      taskId: string;
      assignmentId: string;
      lie: boolean;
      what: 'result' | 'undecodable';
      /** The server's answer: `accepted`, `duplicate` or an error code. */
      answer: string;
    }
  /** The turncoat stopped being honest. */
  | { event: 'turned'; at: number; honestResults: number }
  /** A handshake the server refused (takeover), with its code. */
  | { event: 'refused'; at: number; code: string; message: string }
  | { event: 'log'; line: string };

export const isLiarKind = (k: string): k is LiarKind => (LIAR_KINDS as readonly string[]).includes(k);
