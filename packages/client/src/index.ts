export * from './errors';
export * from './upload-plan';
export * from './chunked-upload';
export * from './client';
export * from './resume';
