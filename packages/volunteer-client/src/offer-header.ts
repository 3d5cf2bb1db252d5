/**
 * An offer's packet frame, read before its image arrives (PROTOCOL.md T2). Socket.IO sends an
 * event with binary data as a text frame (the packet, each buffer replaced by a placeholder) and
 * then one binary frame per buffer; socket.io-client runs the event's handler only once the last
 * frame is in. Moving a 0.5 MB image into a browser worker takes many wake-ups of the worker and of
 * the browser's network process, and on a busy machine that was most of an ack's time: the client
 * acks from the packet frame instead (issue 18, docs/PERFORMANCE.md "Tabs").
 */

/** A binary event's packet frame: its ack id and its arguments (buffers still placeholders). */
export interface PacketFrame {
  ackId: number;
  args: unknown[];
}

/**
 * Reads a socket.io-parser frame `5<attachments>-<nsp>,<ack id>[<event>, …]` (a binary event) for
 * namespace `nsp` and event `event`; null for any other frame or a malformed one.
 *
 * @example
 * readBinaryEventFrame('51-/volunteer,7["task:assign",{"image":{"_placeholder":true,"num":0}}]',
 *   '/volunteer', 'task:assign') // { ackId: 7, args: [{ image: { _placeholder: true, num: 0 } }] }
 */
export function readBinaryEventFrame(frame: string, nsp: string, event: string): PacketFrame | null {
  if (frame.charCodeAt(0) !== 0x35) return null; // '5': BINARY_EVENT
  const dash = frame.indexOf('-');
  if (dash < 2 || !/^\d+$/.test(frame.slice(1, dash))) return null;
  let i = dash + 1;
  if (nsp !== '/') {
    if (!frame.startsWith(`${nsp},`, i)) return null;
    i += nsp.length + 1;
  }
  const idStart = i;
  while (i < frame.length && frame.charCodeAt(i) >= 0x30 && frame.charCodeAt(i) <= 0x39) i++;
  if (i === idStart || frame[i] !== '[') return null;
  let data: unknown;
  try {
    data = JSON.parse(frame.slice(i));
  } catch {
    return null;
  }
  if (!Array.isArray(data) || data[0] !== event) return null;
  return { ackId: Number(frame.slice(idStart, i)), args: data.slice(1) };
}
