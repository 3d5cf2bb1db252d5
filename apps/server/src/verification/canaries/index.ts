export { CanaryDesk, canaryRefreshMs, DEFAULT_CANARIES, type CanaryPolicy, type CanarySource } from './desk';
export { CanaryRoom } from './canary-room';
