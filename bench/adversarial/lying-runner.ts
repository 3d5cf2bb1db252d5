/**
 * A liar's `Runner` under the shared volunteer client: it announces the most slots allowed and
 * answers at once (it never runs the model), except the turncoat, which runs the agent's real
 * onnxruntime-node pool while honest, and the tamperer, which runs it to learn the answer.
 */
import type { ModelInfo } from '@tabgrid/protocol';
import {
  RunnerError,
  type Runner,
  type RunnerModel,
  type RunnerOutput,
  type RunnerTask,
} from '@tabgrid/volunteer-client';
import { impossibleBoxes, randomBoxes, tamperWithinOldRule } from './lies';
import type { LiarKind } from './kinds';

/** The most slots a volunteer may announce (VolunteerAuthSchema): greed. */
export const GREEDY_SLOTS = 8;

export interface LyingRunnerOptions {
  kind: Extract<
    LiarKind,
    'random' | 'empty' | 'copy' | 'impossible' | 'undecodable' | 'stall' | 'tamper' | 'turncoat'
  >;
  random: () => number;
  slots?: number;
  /** Turncoat: the real model it runs while honest (the agent's onnxruntime-node pool). */
  honestRunner?: Runner;
  /** Turncoat: whether to stop being honest now (asked before each task). */
  shouldTurn?: () => boolean;
  /** Turncoat: fraction of tasks it lies on once turned. */
  lieRate?: number;
  /** Called once when the turncoat starts lying. */
  onTurn?: (honestResults: number) => void;
}

export class LyingRunner implements Runner {
  readonly slots: number;
  private labels: string[] = [];
  private previous: RunnerOutput['detections'] = [];
  private readonly honest: Runner | null;
  private honestResults = 0;
  private turned = false;
  private readonly stalls = new Set<() => void>();
  /** Whether each assignment was answered with a knowing lie. */
  readonly lied = new Map<string, boolean>();

  constructor(private readonly options: LyingRunnerOptions) {
    this.slots = options.slots ?? GREEDY_SLOTS;
    this.honest = options.honestRunner ?? null;
    if ((options.kind === 'turncoat' || options.kind === 'tamper') && !this.honest)
      throw new Error(`a ${options.kind} liar needs the real model`);
  }

  async load(model: ModelInfo, server: string): Promise<RunnerModel> {
    this.labels = [...model.labels];
    if (this.honest) return this.honest.load(model, server);
    return { source: 'none (a liar does not load the model)' };
  }

  async detect(task: RunnerTask): Promise<RunnerOutput> {
    const { kind, random } = this.options;
    const lie = (detections: RunnerOutput['detections']): RunnerOutput => {
      this.lied.set(task.assignmentId, true);
      return { detections, inferenceMs: 1 + random() * 5 };
    };
    switch (kind) {
      case 'random':
        return lie(randomBoxes(random, this.labels, task.width, task.height));
      case 'empty':
        return lie([]);
      case 'copy': {
        const copy = this.previous;
        this.previous = randomBoxes(random, this.labels, task.width, task.height);
        return lie(copy.length ? copy : this.previous);
      }
      case 'impossible':
        return lie(impossibleBoxes(task.width, task.height));
      case 'undecodable':
        this.lied.set(task.assignmentId, true);
        throw new RunnerError('undecodable', 'could not decode the image (a lie)');
      case 'stall':
        this.lied.set(task.assignmentId, true);
        return new Promise<RunnerOutput>((_resolve, reject) => {
          const release = () => reject(new RunnerError('inference_failed', 'stopped'));
          this.stalls.add(release);
        });
      case 'tamper': {
        const truth = await this.honest!.detect(task);
        return lie(tamperWithinOldRule(truth.detections, random, task.width, task.height));
      }
      case 'turncoat':
        return this.turncoat(task, lie);
    }
  }

  private async turncoat(task: RunnerTask, lie: (d: RunnerOutput['detections']) => RunnerOutput) {
    const { shouldTurn = () => false, lieRate = 0.1, random } = this.options;
    if (!this.turned && shouldTurn()) {
      this.turned = true;
      this.options.onTurn?.(this.honestResults);
    }
    if (this.turned && random() < lieRate)
      return lie(randomBoxes(random, this.labels, task.width, task.height));
    const out = await this.honest!.detect(task);
    this.honestResults++;
    this.lied.set(task.assignmentId, false);
    return out;
  }

  async close(): Promise<void> {
    for (const release of this.stalls) release();
    this.stalls.clear();
    await this.honest?.close();
  }
}
