export { SchedulerStore } from './scheduler-store';
