/** What the onnx embedder asks of a tokenizer: ids for text, and which id means unknown. */
export interface TextTokenizer {
  encode(text: string, maxTokens: number): number[];
  /** The id of the unknown token ([UNK], <unk>): text that gives it is not seen whole. */
  readonly unk: number;
  /** Names the tokenizer's text normalization when it is not the model's original one; part of the embedder id. */
  readonly revision?: string;
}
