import type { Clock, IdGenerator } from '../../src/types.js';

/** A clock that moves only when told. Starts at a whole second so envelope times round-trip. */
export class FakeClock implements Clock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.time;
  }
  /** Moves time forward by `seconds`. */
  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

/** Ids id-1, id-2, ... so tests can name them. */
export class SequentialIds implements IdGenerator {
  #n = 0;
  generate(): string {
    return `id-${++this.#n}`;
  }
}
