import { Decoder, Encoder } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { readBinaryEventFrame } from './offer-header';

/** The frames socket.io's own encoder writes for an event with an ack id. */
function frames(nsp: string, id: number, args: unknown[]): (string | Buffer | ArrayBuffer)[] {
  return new Encoder().encode({ type: 2, nsp, id, data: args }) as (string | Buffer)[];
}

describe('readBinaryEventFrame', () => {
  const offer = { assignmentId: 'a1', taskId: 't1', image: new Uint8Array([1, 2, 3]) };

  it("reads the ack id and arguments from socket.io's own packet frame, before the image's", () => {
    const [packet, image] = frames('/volunteer', 42, ['task:assign', offer]);
    expect(typeof packet).toBe('string');
    expect(image).toBeInstanceOf(Uint8Array);
    const read = readBinaryEventFrame(packet as string, '/volunteer', 'task:assign');
    expect(read?.ackId).toBe(42);
    expect(read?.args[0]).toMatchObject({ assignmentId: 'a1', taskId: 't1', image: { _placeholder: true } });
    // socket.io's decoder agrees on the id once the image is in.
    const decoder = new Decoder();
    let decoded: { id?: number } | null = null;
    decoder.on('decoded', (p: { id?: number }) => (decoded = p));
    decoder.add(packet as string);
    expect(decoded).toBeNull();
    decoder.add(image as Buffer);
    expect(decoded!.id).toBe(42);
  });

  it('ignores other namespaces, events, frames without an ack id and text-only events', () => {
    const [packet] = frames('/volunteer', 3, ['task:assign', offer]);
    expect(readBinaryEventFrame(packet as string, '/live', 'task:assign')).toBeNull();
    expect(readBinaryEventFrame(packet as string, '/volunteer', 'task:cancel')).toBeNull();
    const [noAck] = new Encoder().encode({ type: 2, nsp: '/volunteer', data: ['task:assign', offer] });
    expect(readBinaryEventFrame(noAck as string, '/volunteer', 'task:assign')).toBeNull();
    const [text] = frames('/volunteer', 4, ['task:assign', { assignmentId: 'a1' }]);
    expect(readBinaryEventFrame(text as string, '/volunteer', 'task:assign')).toBeNull();
    expect(readBinaryEventFrame('51-/volunteer,9["task:assign",{', '/volunteer', 'task:assign')).toBeNull();
  });
});
