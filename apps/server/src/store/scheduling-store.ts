import type { JobView } from '@tabgrid/protocol';
import type { TaskStore } from './task-store';
import type { NewTask, TaskCounts, TaskRecord } from './records';

/** Who owns a new job and whether its results are shown to the public (see access/). */
export interface JobAccessFields {
  owner: string;
  isPublic: boolean;
}

/** A job just stored: its id and its tasks' ids, in upload order. */
export interface CreatedJob {
  id: string;
  tasks: { id: string; name: string }[];
  /**
   * Images of these tasks whose bytes a job deletion (on any gateway) was removing when the
   * tasks were stored (Redis). The store has waited for that removal to end: the caller must
   * write those bytes again before answering.
   */
  freeing?: string[];
}

/** What {@link JobRecords.markDeleted} decided. */
export interface DeletedJob {
  deletedAt: number;
  /** Image digests no other live job uses: the caller removes their bytes. */
  freeable: string[];
  /** Call once those bytes are removed (Redis: uploads of the same bytes wait for it). */
  freed?: (shas: string[]) => Promise<void>;
}

/**
 * Jobs as the HTTP routes and job watchers see them. Asynchronous in both backends, so that no
 * caller depends on which one answers: SQLite's promises are already settled (its reads and
 * writes are done when the method returns), Redis' settle once the shared store has answered.
 * A created job is durable before the promise resolves.
 */
export interface JobRecords {
  createJob(tasks: NewTask[], now: number, access?: JobAccessFields): Promise<CreatedJob>;
  appendTasks(jobId: string, tasks: NewTask[], now: number): Promise<CreatedJob>;
  /** The `GET /api/jobs/:id` body, or null. */
  getJob(jobId: string): Promise<JobView | null>;
  /** Tasks by status over every job (live statistics). */
  counts(): Promise<TaskCounts>;
  /** Tasks waiting to run over every gateway (the `queue_full` limit). */
  queueDepth(): Promise<number>;
  /** Any task by id, wherever it runs (image routes); `getTask` knows only this process's. */
  findTask(taskId: string): Promise<TaskRecord | null>;
  /** Whether any task refers to this image (a failed upload removes only blobs nobody uses). */
  isImageReferenced(sha256: string): Promise<boolean>;
  /**
   * Marks a job deleted (its first deletion's time stays) and, that first time, returns the
   * image digests no other undeleted job uses, which the caller may remove. The store owns the
   * job's record: only `jobs/` calls this (before it cancels the job's tasks).
   */
  markDeleted(jobId: string, now: number): Promise<DeletedJob>;
  /** Gives jobs without an owner (created before keys existed) to `owner`. */
  adoptOrphans(owner: string): Promise<number>;
  /**
   * Marks a job cancelled (its results stay) and returns when: the first cancel's time, which
   * a repeat keeps. Only `jobs/` calls this (before it stops the job's unfinished tasks).
   */
  markCancelled(jobId: string, now: number): Promise<number>;
  /** Records how many photos the requester means to send to this job (`?expected=`). */
  setExpected(jobId: string, expected: number): Promise<void>;
}

/**
 * The whole scheduling store: the scheduler's synchronous `TaskStore` plus the job records.
 * Implemented by `SchedulerStore` (SQLite, one process) and `RedisSchedulingStore` (Redis, many
 * gateways); both pass the contract suite in `apps/server/test/contracts/`.
 */
export interface SchedulingStore extends TaskStore, JobRecords {}
