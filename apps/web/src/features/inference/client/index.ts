export { InferenceClient, type InferenceClientOptions } from './inferenceClient';
export { InferencePool, choosePoolShape, type PoolInitInfo, type PoolShape } from './inferencePool';
export { InferenceError, toInferenceError, type InferenceErrorCode } from '../shared/errors';
export type { DetectOutput, DetectTimings, InitInfo, InitOptions } from '../shared/api';
