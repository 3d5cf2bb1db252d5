export * from './version';
export * from './errors';
export * from './ack';
export * from './schemas';
export * from './events';
