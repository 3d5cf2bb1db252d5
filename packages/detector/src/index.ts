export * from './constants';
export * from './letterbox';
export * from './nms';
export * from './decode';
export * from './labels';
export * from './integrity';
export * from './pipeline';
export * from './imageHeader';
