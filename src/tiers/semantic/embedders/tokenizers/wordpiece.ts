import { OnnxSetupError } from '../../../../errors.js';
import type { TextTokenizer } from './text-tokenizer.js';

/**
 * BERT's uncased tokenizer: clean and lowercase the text, strip accents, split on whitespace and
 * punctuation (and around every CJK character), then split each word into the longest
 * vocabulary pieces from the left, later pieces prefixed with ##. Its normalization is canonical
 * only (NFD, then combining marks dropped): no compatibility fold, and its vocabulary has pieces
 * of their own for ², ³, ⁿ, ₂ or ½, so 10² stays 10 ##² (question/unicode.ts).
 */
export class WordPieceTokenizer implements TextTokenizer {
  private readonly vocab = new Map<string, number>();
  readonly unk: number;
  private readonly cls: number;
  private readonly sep: number;

  constructor(vocabText: string) {
    vocabText.split('\n').forEach((token, id) => {
      const t = token.replace(/\r$/, '');
      if (t) this.vocab.set(t, id);
    });
    this.unk = this.id('[UNK]');
    this.cls = this.id('[CLS]');
    this.sep = this.id('[SEP]');
  }

  private id(token: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) throw new OnnxSetupError(`vocab.txt has no ${token} token`);
    return id;
  }

  encode(text: string, maxTokens: number): number[] {
    const ids = [this.cls];
    for (const word of this.words(text)) {
      for (const piece of this.pieces(word)) {
        if (ids.length >= maxTokens - 1) break;
        ids.push(piece);
      }
    }
    ids.push(this.sep);
    return ids;
  }

  private words(text: string): string[] {
    const cleaned = text
      .replace(/\p{Cc}|\ufffd/gu, (c) => (/\s/.test(c) ? ' ' : ''))
      .replace(/([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2fa1f}])/gu, ' $1 ')
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
    return cleaned
      .split(/\s+/)
      .flatMap((w) => w.split(/([\p{P}\p{S}])/u))
      .filter(Boolean);
  }

  private pieces(word: string): number[] {
    if (word.length > 100) return [this.unk];
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? '##' : '') + word.slice(start, end);
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unk];
      out.push(found);
      start = end;
    }
    return out;
  }
}
