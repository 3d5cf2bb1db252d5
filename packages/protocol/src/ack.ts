import type { ErrorCode } from './errors';

/** Every Socket.IO acknowledgement has this shape (PROTOCOL.md rule P3). */
export type Ack<T> = { ok: true; data: T } | { ok: false; code: ErrorCode; message: string };
export type AckCallback<T> = (response: Ack<T>) => void;

export const ok = <T>(data: T): Ack<T> => ({ ok: true, data });
export const fail = (code: ErrorCode, message: string): Ack<never> => ({ ok: false, code, message });
