"""Lab declarations of chapter 9.4 (convolutional networks, transfer learning) and 9.5 (recurrent networks,
encoder–decoder with attention, Transformer, pretrained models). Runners live in `layerlab.labs`."""

from __future__ import annotations

from ..base import Text
from . import LabDecl, register_lab

DEFAULT_SENTENCE = "The movie was not bad at all, but the ending was too long."

register_lab(LabDecl(
    id="cnn_filters",
    section="9.4",
    title=Text("Convolution filters: the slide's filters vs learned ones",
               "畳み込みフィルタ：スライドのフィルタと学習したフィルタ"),
    claim=Text(
        "A convolution layer applies image filters, like the slide's mean filter (noise reduction) and edge filter "
        "(vertical lines). Turning a digit into such feature maps helps a classifier: with the same pooling and the "
        "same linear classifier, both the three hand-made filters and three learned 3×3 filters beat the raw pixels.",
        "畳み込み層は画像フィルタの適用と同じで、スライドの平均値フィルタ（ノイズを軽減する）やエッジフィルタ（縦線を"
        "検出する）のような処理をする。画像をこうした特徴マップに変えると分類しやすくなる。同じプーリングと同じ線形"
        "分類器で比べると、手作りの 3 つのフィルタも学習した 3 つの 3×3 フィルタも、画素をそのまま使うより"
        "正解率が高い。",
    ),
    look_for=Text(
        "The feature maps: the mean filter blurs the digit, the edge filters light up its vertical and horizontal "
        "strokes. The learned filters: several look like edge detectors (their best match with a slide filter is "
        "listed). Compare the three accuracy curves.",
        "特徴マップ：平均値フィルタは数字をぼかし、エッジフィルタは縦と横の線を浮かび上がらせる。学習したフィルタの"
        "いくつかはエッジ検出器に似てくる（スライドのフィルタとの最も高い類似度を表に示す）。3 本の正解率の曲線を"
        "比べよう。",
    ),
    views=("curves", "filters", "feature_maps", "table"),
    varies="filters",
))

register_lab(LabDecl(
    id="pooling_batchnorm",
    section="9.4",
    title=Text("Pooling and batch normalisation", "プーリング層とバッチ標準化層"),
    claim=Text(
        "Pooling is a downsampling that absorbs shifts in position: a CNN with max pooling loses less accuracy than "
        "the same CNN without pooling when the test digits are moved by 1–2 pixels. Batch normalisation subtracts "
        "each mini-batch's mean and divides by its standard deviation, which absorbs the drifting scale of values "
        "between layers: the same CNN with it brings its training loss down faster.",
        "プーリング層は位置の変動を吸収するダウンサンプリングで、最大値プーリングのある CNN は、ない CNN よりも"
        "テスト画像を 1〜2 画素ずらしたときの正解率の低下が小さい。バッチ標準化層は入力値からミニバッチ毎の平均値を"
        "引いて標準偏差で割り、多階層の演算による値の大きな変動を吸収する。同じ CNN にこれを入れると学習の損失が"
        "速く下がる。",
    ),
    look_for=Text(
        "The table of accuracy on shifted digits (1 and 2 pixels, 8 directions) as a share of the unshifted accuracy, "
        "and the training-loss curves of the CNN with and without batch norm during the first epoch.",
        "ずらした画像（1 画素と 2 画素、8 方向）での正解率をずらさない場合に対する割合で示した表と、バッチ標準化の"
        "有無による最初のエポックの学習損失の曲線を見よう。",
    ),
    views=("curves", "summary_plot", "table"),
    varies="architecture",
))

register_lab(LabDecl(
    id="transfer_learning",
    section="9.4",
    title=Text("Transfer learning: MNIST → scikit-learn digits with 5 labels per class",
               "転移学習：MNIST から 1 クラス 5 枚の scikit-learn 手書き数字へ"),
    claim=Text(
        "When a network has already learned from plenty of data, a target task with only a little data can still be "
        "learned by transfer: a small CNN pretrained on MNIST-5k and fine-tuned on 50 scikit-learn digits (5 per "
        "class, resized to MNIST's framing) beats the same CNN trained from scratch on those 50.",
        "大量のデータで学習済みのネットワークがあれば、対象タスクのデータが少量でも転移学習が可能。MNIST-5k で事前に"
        "学習した小さな CNN を scikit-learn の手書き数字 50 枚（1 クラス 5 枚、MNIST と同じ枠に拡大）で微調整すると、"
        "同じ 50 枚で一から学習した同じ CNN より正解率が高い。",
    ),
    look_for=Text(
        "Four numbers: the pretrained model used as is, with its convolution layers frozen (only the classifier "
        "learns), fine-tuned as a whole, and trained from scratch. The from-scratch curve starts lowest and ends "
        "lowest.",
        "4 つの数値を比べよう：事前学習したモデルをそのまま使う場合、畳み込み層を固定して分類層だけ学習する場合、"
        "全体を微調整する場合、一から学習する場合。一から学習した曲線は最も低く始まり、最も低く終わる。",
    ),
    views=("curves", "table"),
    varies="initial weights",
))

register_lab(LabDecl(
    id="rnn_vs_lstm",
    section="9.5",
    title=Text("RNN vs LSTM on a long dependency", "長期依存：RNN と LSTM"),
    claim=Text(
        "The label is the first token (A or B), followed by many distractor tokens. A plain RNN combines its "
        "previous output with each new input through tanh, so the gradient from the label back to the first token "
        "vanishes: it learns short sequences but stays at chance on long ones. The LSTM's gates let information "
        "through selectively and its cell state is updated by addition, so it keeps the first token over long "
        "sequences.",
        "ラベルは最初のトークン（A か B）で決まり、その後に多数の妨害トークンが続く。単純な RNN は一つ前の出力と次の"
        "入力を tanh で結合するため、ラベルから最初のトークンまで戻る勾配が消失し、短い系列は学習できても長い系列では"
        "偶然の正解率（0.5）にとどまる。LSTM はゲートで選択的に情報を通し、セル状態を足し算で更新するので、長い系列"
        "でも最初のトークンを保持できる。",
    ),
    look_for=Text(
        "Test accuracy against sequence length for both cells, and the gradient that reaches the first token at the "
        "start of training (relative to the gradient at the last token). The LSTM starts with its forget gates open "
        "(chrono initialisation: forget-gate biases log U(1, T)), standard practice so that it begins by remembering.",
        "両方のセルについて系列長に対するテスト正解率と、学習開始時に最初のトークンまで届く勾配（最後のトークンでの"
        "勾配に対する比）を見よう。LSTM は忘却ゲートを開いた状態から始める（chrono 初期化：忘却ゲートのバイアスを "
        "log U(1, T) にする）。最初から記憶を保つようにする標準的な設定。",
    ),
    views=("curves", "summary_plot", "table"),
    varies="cell and sequence length",
))

register_lab(LabDecl(
    id="bidirectional_rnn",
    section="9.5",
    title=Text("Bidirectional RNN: tagging that needs the next token", "双方向RNN：次のトークンが必要なタグ付け"),
    claim=Text(
        "A bidirectional RNN computes each output from the future as well as the past. Tag every digit of a sequence "
        "with whether the NEXT digit is larger: a one-directional LSTM cannot see it and stays at the best accuracy "
        "possible from the past alone (computed from the data), while the bidirectional LSTM tags almost every digit "
        "right.",
        "双方向 RNN は過去だけでなく、未来の情報も用いて出力を計算する。数字列の各数字に「次の数字の方が大きいか」"
        "というタグを付ける課題では、一方向の LSTM は次の数字を見られず、過去だけから可能な最高の正解率（データから"
        "計算）にとどまる。双方向 LSTM はほぼすべてを正しくタグ付けする。",
    ),
    look_for=Text(
        "The one-directional curve flattens at the dashed bound of what the past can tell; the bidirectional curve "
        "climbs to nearly 1.",
        "一方向の曲線は過去から分かる限界（表の値）で頭打ちになり、双方向の曲線はほぼ 1 まで上がる。",
    ),
    views=("curves", "table"),
    varies="direction",
))

register_lab(LabDecl(
    id="seq2seq_attention",
    section="9.5",
    title=Text("Encoder–decoder with and without attention", "Encoder-Decoder：アテンションの有無"),
    claim=Text(
        "An encoder–decoder without attention must sum up the whole input in one representation, so its accuracy "
        "falls as sequences grow. With attention, each decoder step takes a weighted sum of all encoder states "
        "(which part of the input to look at) and stays accurate on long sequences. For reversal, the alignment map "
        "is anti-diagonal: output i looks at input n−1−i.",
        "アテンションのない Encoder-Decoder は入力の内容をひとつの表現にまとめる必要があり、系列が長くなると正解率が"
        "下がる。アテンションでは、デコーダの各時刻が Encoder 内のすべての中間層出力の重み付き和（入力のどの部分を"
        "見るか）をとるので、長い系列でも正確に出力できる。系列の反転では対応関係の図が逆対角になる（出力 i は入力 "
        "n−1−i を見る）。",
    ),
    look_for=Text(
        "Accuracy (greedy decoding, the model's own outputs fed back) against source length for both models, and "
        "the alignment map of a long test sequence.",
        "両モデルについて入力系列長に対する正解率（モデル自身の出力を次の入力にする貪欲デコード）と、長いテスト系列の"
        "アテンションの対応関係の図を見よう。",
    ),
    views=("curves", "summary_plot", "alignment", "table"),
    varies="attention",
))

register_lab(LabDecl(
    id="transformer_heads",
    section="9.5",
    title=Text("Transformer self-attention heads specialise", "Transformer の自己注意ヘッドの役割分担"),
    claim=Text(
        "Self-attention computes each position's new representation from its relation to the other positions. On a "
        "task where every position must name both neighbours (left and right), the heads of one multi-head "
        "self-attention layer split the work: one head attends to the previous position, another to the next.",
        "Self-attention は自分の中間表現を作るときに入力の他の部分との関係を計算する。各位置が左右両方の隣の記号を"
        "答える課題では、マルチヘッド自己注意層のヘッドが役割を分担し、あるヘッドは一つ前の位置に、別のヘッドは一つ"
        "後の位置に注意を向ける。",
    ),
    look_for=Text(
        "The attention map of each head (queries down, keys across): look for a stripe just below and just above the "
        "diagonal in different heads, and the table of each head's attention on offsets −1, 0 and +1.",
        "各ヘッドの注意の図（縦がクエリ、横がキー）で、対角線のすぐ下とすぐ上の帯が別々のヘッドに現れることと、"
        "各ヘッドが位置のずれ −1、0、+1 に向ける注意の表を見よう。",
    ),
    views=("curves", "attention_heads", "table"),
    varies="head",
))

register_lab(LabDecl(
    id="bert_attention",
    section="9.5",
    title=Text("A pretrained BERT-style model: attention and embeddings", "事前学習モデル（BERT 型）：注意と埋め込み"),
    claim=Text(
        "Transformers are the basis of pretrained models such as BERT, and using such a pretrained model is "
        "promising. all-MiniLM-L6-v2 (6 layers × 12 heads, shipped offline) shows per layer and head how each token "
        "of your sentence attends to the others (each row of a map sums to 1). A small classifier trained on its "
        "sentence embeddings separates the sentiment sentences with negation far better than the same classifier on "
        "the embeddings of the same network with random, untrained weights.",
        "Transformer は BERT などの事前学習モデルに使われており、事前学習モデルの活用が有望である。"
        "all-MiniLM-L6-v2（6 層 × 12 ヘッド、オフラインで同梱）で、入力した文の各トークンが他のトークンにどう注意を"
        "向けるかを層・ヘッドごとに示す（各行の和は 1）。その文埋め込みで学習した小さな分類器は、否定を含む感情分析の"
        "文を、重みが未学習（ランダム）の同じネットワークの埋め込みで学習した同じ分類器よりはるかに正しく分類する。",
    ),
    look_for=Text(
        "Type a sentence. In the first layers more attention goes to the neighbouring tokens; from layer 2 on, much "
        "of it gathers on [CLS] and [SEP] (the table gives both shares per layer). Then compare the two classifiers' "
        "test accuracy.",
        "文を入力しよう。浅い層ほど隣のトークンに多くの注意が向き、第 2 層からは注意の多くが [CLS] と [SEP] に集まる"
        "（表に層ごとの割合を示す）。次に 2 つの分類器のテスト正解率を比べよう。",
    ),
    views=("attention_heads", "curves", "table"),
    varies="embeddings",
    extra={"reads_text": True, "default_text": DEFAULT_SENTENCE},
))
