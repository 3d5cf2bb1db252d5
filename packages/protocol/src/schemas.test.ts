import { describe, expect, it } from 'vitest';
import {
  BoxSchema,
  DetectionSchema,
  HeartbeatSchema,
  HelloSchema,
  LIMITS,
  TaskAssignmentSchema,
  TaskErrorSchema,
  TaskResultSchema,
  VolunteerAuthSchema,
} from './schemas';

const detection = { label: 'bus', score: 0.92, box: [14, 231, 800, 735] };
const result = { assignmentId: 'a_1-B', detections: [detection], inferenceMs: 12.5 };

describe('DetectionSchema and BoxSchema', () => {
  it('accept a good detection', () => {
    expect(DetectionSchema.parse(detection)).toEqual(detection);
  });

  it('accept a degenerate box (x1 == x2, y1 == y2)', () => {
    expect(BoxSchema.safeParse([5, 5, 5, 5]).success).toBe(true);
  });

  it.each([
    ['x2 < x1', [10, 0, 5, 10]],
    ['y2 < y1', [0, 10, 10, 5]],
    ['NaN', [Number.NaN, 0, 1, 1]],
    ['Infinity', [0, 0, Number.POSITIVE_INFINITY, 1]],
    ['-Infinity', [Number.NEGATIVE_INFINITY, 0, 1, 1]],
    ['3 values', [0, 0, 1]],
    ['5 values', [0, 0, 1, 1, 1]],
    ['a string', ['0', 0, 1, 1]],
  ])('reject a box with %s', (_, box) => {
    expect(BoxSchema.safeParse(box).success).toBe(false);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['> 1', 1.0001],
    ['< 0', -0.01],
  ])('reject a score that is %s', (_, score) => {
    expect(DetectionSchema.safeParse({ ...detection, score }).success).toBe(false);
  });

  it('reject an empty or overlong label', () => {
    expect(DetectionSchema.safeParse({ ...detection, label: '' }).success).toBe(false);
    expect(DetectionSchema.safeParse({ ...detection, label: 'x'.repeat(65) }).success).toBe(false);
  });
});

describe('TaskResultSchema', () => {
  it('accepts a good result, and one with no detections', () => {
    expect(TaskResultSchema.parse(result)).toEqual(result);
    expect(TaskResultSchema.safeParse({ ...result, detections: [] }).success).toBe(true);
  });

  it(`accepts ${LIMITS.maxDetections} detections and rejects one more`, () => {
    const many = (n: number) => ({ ...result, detections: Array.from({ length: n }, () => detection) });
    expect(TaskResultSchema.safeParse(many(LIMITS.maxDetections)).success).toBe(true);
    expect(TaskResultSchema.safeParse(many(LIMITS.maxDetections + 1)).success).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['non-ASCII', 'tâche'],
    ['65 characters', 'a'.repeat(65)],
    ['a number', 42],
  ])('rejects an assignment id that is %s', (_, assignmentId) => {
    expect(TaskResultSchema.safeParse({ ...result, assignmentId }).success).toBe(false);
  });

  it('accepts a 64-character id', () => {
    expect(TaskResultSchema.safeParse({ ...result, assignmentId: 'a'.repeat(64) }).success).toBe(true);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1, 600_001])('rejects inferenceMs %s', (inferenceMs) => {
    expect(TaskResultSchema.safeParse({ ...result, inferenceMs }).success).toBe(false);
  });

  it('rejects a result with one bad detection among good ones', () => {
    const detections = [detection, { ...detection, box: [10, 0, 5, 10] }];
    expect(TaskResultSchema.safeParse({ ...result, detections }).success).toBe(false);
  });
});

describe('TaskErrorSchema', () => {
  it.each(['undecodable', 'inference_failed', 'model_mismatch'])('accepts failure code %s', (code) => {
    expect(TaskErrorSchema.safeParse({ assignmentId: 'a1', code, message: 'x' }).success).toBe(true);
  });

  it.each(['internal', 'not_holder', 'oops', ''])('rejects code %j', (code) => {
    expect(TaskErrorSchema.safeParse({ assignmentId: 'a1', code, message: 'x' }).success).toBe(false);
  });

  it('rejects a message longer than the limit', () => {
    const message = 'x'.repeat(LIMITS.maxMessageLength + 1);
    expect(TaskErrorSchema.safeParse({ assignmentId: 'a1', code: 'undecodable', message }).success).toBe(
      false,
    );
  });
});

describe('HeartbeatSchema', () => {
  it('accepts up to 16 ids', () => {
    const ids = (n: number) => ({ assignmentIds: Array.from({ length: n }, (_, i) => `a${i}`) });
    expect(HeartbeatSchema.safeParse(ids(0)).success).toBe(true);
    expect(HeartbeatSchema.safeParse(ids(16)).success).toBe(true);
    expect(HeartbeatSchema.safeParse(ids(17)).success).toBe(false);
    expect(HeartbeatSchema.safeParse({ assignmentIds: ['bad id'] }).success).toBe(false);
  });
});

describe('VolunteerAuthSchema', () => {
  const auth = { protocolVersion: 2, kind: 'agent', runtime: 'onnxruntime-node cpu' };
  const token = 'A'.repeat(43);

  it('accepts browser and agent volunteers', () => {
    expect(VolunteerAuthSchema.safeParse(auth).success).toBe(true);
    expect(VolunteerAuthSchema.safeParse({ ...auth, kind: 'browser', runtime: undefined }).success).toBe(
      true,
    );
  });

  it('takes an optional server-issued id and its 43-char base64url token (I1)', () => {
    expect(VolunteerAuthSchema.parse({ ...auth, volunteerId: 'v_1', token }).token).toBe(token);
    expect(VolunteerAuthSchema.safeParse({ ...auth, volunteerId: 'v_1', token: 'short' }).success).toBe(
      false,
    );
    expect(VolunteerAuthSchema.safeParse({ ...auth, token: `${'A'.repeat(42)}+` }).success).toBe(false);
  });

  it('rejects an unknown kind, a bad id, or a fractional version', () => {
    expect(VolunteerAuthSchema.safeParse({ ...auth, kind: 'robot' }).success).toBe(false);
    expect(VolunteerAuthSchema.safeParse({ ...auth, volunteerId: '../x' }).success).toBe(false);
    expect(VolunteerAuthSchema.safeParse({ ...auth, protocolVersion: 1.5 }).success).toBe(false);
  });

  it('takes optional slots 1..8 (omitted = 1, left to the server)', () => {
    expect(VolunteerAuthSchema.parse(auth).slots).toBeUndefined();
    expect(VolunteerAuthSchema.parse({ ...auth, slots: 4 }).slots).toBe(4);
    for (const slots of [0, 9, 1.5, '2']) {
      expect(VolunteerAuthSchema.safeParse({ ...auth, slots }).success, String(slots)).toBe(false);
    }
  });
});

describe('outbound schemas', () => {
  it('HelloSchema requires a lowercase 64-hex model hash', () => {
    const hello = {
      volunteerId: 'v1',
      displayName: 'amber-otter-42',
      model: {
        url: '/models/yolox_nano.onnx',
        sha256: 'a'.repeat(64),
        bytes: 1,
        labels: ['x'],
        inputSize: 416,
      },
      leaseMs: 30_000,
      heartbeatMs: 15_000,
      maxInFlight: 2,
    };
    expect(HelloSchema.safeParse(hello).success).toBe(true);
    expect(
      HelloSchema.safeParse({ ...hello, model: { ...hello.model, sha256: 'A'.repeat(64) } }).success,
    ).toBe(false);
  });

  it('TaskAssignmentSchema accepts binary image bytes only', () => {
    const assignment = {
      assignmentId: 'a1',
      taskId: 't1',
      jobId: 'j1',
      name: 'bus.jpg',
      width: 810,
      height: 1080,
      mime: 'image/jpeg',
      imageSha256: 'f'.repeat(64),
      image: new Uint8Array([1, 2, 3]),
      leaseMs: 30_000,
    };
    expect(TaskAssignmentSchema.safeParse(assignment).success).toBe(true);
    expect(TaskAssignmentSchema.safeParse({ ...assignment, image: new ArrayBuffer(3) }).success).toBe(true);
    expect(TaskAssignmentSchema.safeParse({ ...assignment, image: 'AQID' }).success).toBe(false);
  });
});
