export * from './math';
export { format } from './format';
