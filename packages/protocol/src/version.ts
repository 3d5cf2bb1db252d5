/**
 * Wire protocol version. Bumped on any incompatible change to an event name,
 * payload or ack shape. Checked in the Socket.IO handshake (PROTOCOL.md rule P1).
 */
export const PROTOCOL_VERSION = 2;

/** Socket.IO namespaces. */
export const NAMESPACES = {
  volunteer: '/volunteer',
  live: '/live',
} as const;
