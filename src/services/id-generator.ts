import { nanoid } from 'nanoid';
import type { IdGenerator } from '../types.js';

/** Id length in nanoid's 64-symbol alphabet: 24 × 6 = 144 bits from the platform CSPRNG. */
export const ID_LENGTH = 24;

/** Session ids from nanoid (crypto.getRandomValues), 144 bits each. */
export class NanoidGenerator implements IdGenerator {
  generate(): string {
    return nanoid(ID_LENGTH);
  }
}
