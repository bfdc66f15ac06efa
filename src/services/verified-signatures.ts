/** Entries kept by default: the signed cookies of about this many recently seen sessions. */
export const DEFAULT_VERIFIED_SIGNATURES = 1024;
/**
 * Longer signed data is not remembered (one cookie holds at most 4 KiB; a chunked session is
 * checked every time): the table's worst case stays at about 4 MiB.
 */
const MAX_DATA_LENGTH = 4096;

/**
 * A copy that shares no memory with the string it came from. A slice of a Cookie header keeps
 * the whole header alive in V8; a parsed copy does not.
 */
function detached(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * The signatures a signer made or accepted under its current key, each with the exact data it
 * signs, so that a browser sending the same cookie again costs a table lookup instead of an HMAC.
 *
 * Why this is safe:
 * - Only the signer's own output under its current key goes in: what it signed, or what it
 *   verified with a constant-time compare. A hit therefore means "this exact (data, signature)
 *   pair was valid", and an HMAC of the same pair under the same key would say so again. A
 *   rotated or invalid result is never stored, so no pair an attacker made gets in. A client
 *   can still push entries out (each session a page creates for it adds one; those never sent
 *   back go first): that costs speed only, since an evicted cookie is checked with an HMAC again.
 * - The lookup key is the signature, compared by the hash table, which uses V8's per-process
 *   random hash seed: characters of a stored signature are compared with a guess only when the
 *   two strings' seeded hashes are equal. A guess learns nothing it can steer toward a signature.
 *   The data is compared only after the signature matched, and is what the sender already holds.
 * - What a hit answers is "signed by us". Expiry, idle and absolute limits are checked on the
 *   decoded payload on every request, exactly as after an HMAC.
 * - Bounded: at most `size` entries of at most 4 KiB of data each, the oldest dropped first,
 *   those never sent back before those a browser returned.
 *   One table per signer, so a new set of secrets starts empty.
 */
export class VerifiedSignatures {
  /** Signed here and not seen back yet: what a flood of new sessions fills, so evicted first. */
  readonly #made = new Map<string, string>();
  /** Verified from a request (a browser sent it back): evicted only when nothing else is left. */
  readonly #returned = new Map<string, string>();
  readonly #size: number;

  /** `size` 0 turns remembering off: every verify computes the HMAC. */
  constructor(size = DEFAULT_VERIFIED_SIGNATURES) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`The verified-signature table size must be a whole number >= 0 (0 turns it off), got ${String(size)}.`);
    }
    this.#size = size;
  }

  /** Whether `signature` was made or accepted under the current key for exactly `data`. */
  has(data: string, signature: string): boolean {
    if (this.#size === 0) return false;
    if (this.#returned.get(signature) === data) return true;
    const made = this.#made.get(signature);
    if (made !== data) return false;
    // A browser sent back what we signed: it now counts as a returning session.
    this.#made.delete(signature);
    this.#returned.set(signature, made);
    return true;
  }

  /**
   * Remembers a pair the signer made (`returned` false) or verified from a request (`returned`
   * true). At `size` entries the oldest made-and-never-returned one goes first, so cookieless
   * requests that each create a session cannot push out the sessions browsers keep sending.
   */
  remember(data: string, signature: string, returned = false): void {
    if (this.#size === 0 || data.length > MAX_DATA_LENGTH) return;
    if (this.#returned.has(signature) || this.#made.has(signature)) return;
    if (this.#made.size + this.#returned.size >= this.#size) {
      const from = this.#made.size > 0 ? this.#made : this.#returned;
      from.delete(from.keys().next().value as string);
    }
    (returned ? this.#returned : this.#made).set(detached(signature), detached(data));
  }

  /** How many entries are kept now (for tests and diagnostics). */
  get count(): number {
    return this.#made.size + this.#returned.size;
  }
}
