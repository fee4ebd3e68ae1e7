/**
 * Sealed payloads opened once. A hit from a sealed tier reads the same sealed bytes again and
 * again; opening them costs an AES-GCM decryption (a few microseconds, most of it Node setting
 * up the cipher). So the last payload opened for each key hash is kept with its plain text, and
 * the same bytes, for the same row (namespace and hash: the associated data), opened by the same
 * sealer, are given that same plain string back: a comparison of the sealed bytes instead of a
 * decryption, and a pointer check in the decoded-answer cache behind it (decoded.ts).
 *
 * Sound because opening is deterministic: the same bytes, key set and associated data open to
 * the same text every time. Anything else (other bytes: tampered, rewritten, another row's; another
 * sealer: another tenant's keys) is opened in full. Failures are not kept. Bounded in bytes like
 * decoded.ts; large payloads are opened every time and never kept.
 */
import { DECODED_MAX_BYTES, DECODED_MAX_PAYLOAD } from '../decoded.js';
import type { Sealer } from './keyring.js';

interface Opened {
  readonly sealed: string;
  readonly namespace: string;
  readonly sealer: Sealer;
  readonly plain: string;
}

export class OpenedPayloads {
  /** By key hash, oldest first (insertion order). */
  private readonly byHash = new Map<string, Opened>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = DECODED_MAX_BYTES,
    private readonly maxPayload = DECODED_MAX_PAYLOAD,
  ) {}

  /** The plain text of `sealed`, as `sealer` opens it with `aad`; undefined when it does not open. */
  open(sealed: string, namespace: string, hash: string, sealer: Sealer, aad: string): string | undefined {
    const known = this.byHash.get(hash);
    if (
      known !== undefined &&
      known.sealed === sealed &&
      known.sealer === sealer &&
      known.namespace === namespace
    )
      return known.plain;
    const plain = sealer.open(sealed, aad);
    if (plain === undefined || sealed.length > this.maxPayload) return plain;
    if (known !== undefined) {
      this.byHash.delete(hash);
      this.bytes -= known.sealed.length + known.plain.length;
    }
    this.byHash.set(hash, { sealed, namespace, sealer, plain });
    this.bytes += sealed.length + plain.length;
    for (const [oldest, o] of this.byHash) {
      if (this.bytes <= this.maxBytes) break;
      this.byHash.delete(oldest);
      this.bytes -= o.sealed.length + o.plain.length;
    }
    return plain;
  }
}
