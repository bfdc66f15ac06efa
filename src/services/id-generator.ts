import { nanoid } from 'nanoid';
import type { IdGenerator } from '../types.js';

/** Id length in nanoid's 64-symbol alphabet: 24 × 6 = 144 bits from the platform CSPRNG. */
export const ID_LENGTH = 24;

/** Session ids from nanoid (crypto.getRandomValues), 144 bits each. */
export class NanoidGenerator implements IdGenerator {
  generate(): string {
    const id = nanoid(ID_LENGTH);
    // nanoid appends one character at a time, and V8 keeps such a string as a chain of pieces:
    // about 450 bytes where a store holds it as a key, instead of about 50. Reading a character
    // makes V8 flatten the string in place (bench/memory.mjs measures the difference).
    id.charCodeAt(0);
    return id;
  }
}
