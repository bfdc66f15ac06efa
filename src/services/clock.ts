import type { Clock } from '../types.js';

/** The real time, from `Date.now()`. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}
