export {
  VolunteerClient,
  creditsLine,
  HandshakeRefusedError,
  ModelMismatchError,
  type OfferTiming,
  type TaskInfo,
  type VolunteerClientEvents,
  type VolunteerClientOptions,
  type VolunteerSocket,
} from './client';
export { MemoryIdentityStore, type IdentityStore, type VolunteerIdentity } from './identity';
export {
  RunnerError,
  toRunnerError,
  type Runner,
  type RunnerModel,
  type RunnerOutput,
  type RunnerTask,
} from './runner';
export { initialState, type ClientPhase, type VolunteerClientState } from './state';
export { Backoff } from './backoff';
