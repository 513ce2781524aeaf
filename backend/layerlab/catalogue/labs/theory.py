"""Labs of chapter 9.3 (multi-layer training, autoencoders, dropout) and of the slides on the gap between
deep-learning practice and theory (深層学習における現実と理論のギャップ).

Each declaration states the chapter's claim and what the learner should look at; the runners in
`layerlab.labs` measure it on real training runs and say whether it held, with the numbers.
"""

from __future__ import annotations

from ..base import Text
from . import LabDecl, register_lab

register_lab(LabDecl(
    id="vanishing_gradients",
    section="9.3.1",
    title=Text("Vanishing gradients: deep sigmoid vs ReLU", "勾配消失問題：深いシグモイドと ReLU"),
    claim=Text(
        "In a deep sigmoid network the gradient shrinks layer by layer on its way back (the sigmoid's slope is at "
        "most 1/4), so the first layers barely learn; with ReLU the gradient reaches the first layer undiminished.",
        "深いシグモイドのネットワークでは、誤差を逆向きに伝えるたびに勾配が小さくなり（シグモイドの傾きは最大 1/4）、"
        "入力に近い層はほとんど学習しない。ReLU では勾配が入力側の層まで減らずに届く。"),
    look_for=Text(
        "The per-layer gradient-norm bars: for sigmoid they fall by orders of magnitude from the last layer to the "
        "first, for ReLU they stay level. The sigmoid net's loss stays at chance while ReLU's falls.",
        "層ごとの勾配ノルムの棒グラフ：シグモイドでは出力側から入力側へ桁違いに小さくなり、ReLU ではほぼ一定。"
        "シグモイドの損失は偶然の水準のまま下がらず、ReLU は下がる。"),
    views=("grad_norms", "curves"),
    varies="activation",
))

register_lab(LabDecl(
    id="activations",
    section="9.3.1",
    title=Text("Activation functions race", "活性化関数の比較"),
    claim=Text(
        "The activation functions the chapter recommends for deep networks (ReLU, tanh, LeakyReLU, ELU, and GELU) "
        "train a five-hidden-layer network that the sigmoid cannot move from chance.",
        "章が多階層ネットワークに勧める活性化関数（ReLU, tanh, LeakyReLU, ELU、さらに GELU）は 5 層の中間層を持つ"
        "ネットワークを学習できるが、シグモイドでは偶然の水準から動かない。"),
    look_for=Text(
        "Six loss curves from the same data, depth, initialisation scheme and optimizer: five fall together, the "
        "sigmoid's stays flat near ln 10 ≈ 2.3.",
        "同じデータ・深さ・初期化・最適化器で学習した 6 本の損失曲線：5 本はそろって下がり、シグモイドだけが "
        "ln 10 ≈ 2.3 付近で平らなまま。"),
    views=("curves", "summary_plot"),
    varies="activation",
))

register_lab(LabDecl(
    id="optimizer_race",
    section="9.3.1",
    title=Text("Optimizer race", "最適化器の比較"),
    claim=Text(
        "Momentum and the adaptive optimizers (AdaGrad, RMSProp, Adam) reach a lower training loss than plain SGD "
        "in the same number of steps, from the same initial weights on the same mini-batches; on a curved valley "
        "(the Rosenbrock function) they get much closer to the minimum.",
        "モーメンタムと適応的な最適化器（AdaGrad, RMSProp, Adam）は、同じ初期重み・同じミニバッチから同じステップ数で、"
        "素の SGD より低い学習損失に達する。曲がった谷（Rosenbrock 関数）では最小点にずっと近づく。"),
    look_for=Text(
        "The five loss curves (one batched ensemble: identical start, identical batches), and the five paths on "
        "the Rosenbrock contour map: SGD crawls along the valley floor, Momentum overshoots and recovers, Adam "
        "and RMSProp take steady steps of about their learning rate.",
        "5 本の損失曲線（1 つのバッチ化アンサンブル：初期値もミニバッチも同一）と、Rosenbrock 関数の等高線上の "
        "5 本の軌跡：SGD は谷底をゆっくり進み、モーメンタムは行き過ぎては戻り、Adam と RMSProp はほぼ学習率の"
        "大きさの歩幅で着実に進む。"),
    views=("curves", "landscape", "paths"),
    varies="optimizer",
))

register_lab(LabDecl(
    id="dropout",
    section="9.3.3",
    title=Text("Dropout against over-fitting", "ドロップアウトによる過学習の回避"),
    claim=Text(
        "Dropping units at random while training acts like regularisation: the gap between training and test "
        "accuracy shrinks. The slide's rule (keep units as they are while training, multiply by the keep rate at "
        "inference) and inverted dropout (divide by the keep rate while training) are equivalent: they reach the "
        "same test accuracy.",
        "学習時にユニットをランダムに消すと正則化のような効果があり、学習データとテストデータの正解率の差が縮む。"
        "スライドの方法（学習時はそのまま、認識時に重みへ保持率を掛ける）と逆ドロップアウト（学習時に保持率で割る）"
        "は等価で、同じテスト正解率になる。"),
    look_for=Text(
        "Train and test accuracy of a wide network on 30 digits per class, a fifth of them with a wrong label, "
        "without dropout and with each dropout mode (several seeds of each, trained as one batched ensemble): "
        "without dropout the network memorises the wrong labels and the train-test gap is the largest; with "
        "dropout the test accuracy is higher, and the two modes agree.",
        "1 クラス 30 枚（その 5 分の 1 は誤ったラベル）で学習した幅の広いネットワークの学習・テスト正解率を、"
        "ドロップアウトなしと 2 つの方式で比べる（各方式で複数の乱数種をバッチ化アンサンブルとして同時に学習）："
        "ドロップアウトなしでは誤ったラベルまで覚えてしまい差が最も大きい。ドロップアウトありではテスト正解率が"
        "高く、2 つの方式の結果は一致する。"),
    views=("curves", "summary_plot", "table"),
    varies="dropout",
))

register_lab(LabDecl(
    id="pretraining",
    section="9.3.1",
    title=Text("Layer-wise pretraining with autoencoders", "自己写像による層ごとの事前学習"),
    claim=Text(
        "Learning the weights layer by layer from the input side as autoencoders (pre-training) on unlabelled "
        "data, then training the whole network on the few labelled samples (fine-tuning), gives a better "
        "classifier than training from random weights on those few labels alone.",
        "ラベルのないデータで入力層から順に自己写像として重みを学習し（事前学習）、その後ネットワーク全体を少数の"
        "ラベル付きデータで教師あり学習する（fine-tuning）と、少数のラベルだけでランダムな初期値から学習するより"
        "良い識別器になる。"),
    look_for=Text(
        "The reconstruction loss of each pretrained layer, then two fine-tuning curves on 5 labels per digit: the "
        "pretrained network starts and ends with higher test accuracy. The chapter adds that pretraining is rarely "
        "used now: better activations and optimizers solved the gradient problem it was invented for.",
        "各層の事前学習の再構成誤差、続いて 1 数字あたり 5 ラベルでの 2 本の fine-tuning 曲線：事前学習した"
        "ネットワークはテスト正解率が最初から高く、最後も上回る。章が述べるとおり、現在は活性化関数や最適化器の"
        "工夫で勾配の問題が解決したため、事前学習はあまり使われない。"),
    views=("curves", "table"),
    varies="initialisation",
))

register_lab(LabDecl(
    id="autoencoder",
    section="9.3.2",
    title=Text("Autoencoder bottleneck", "オートエンコーダのボトルネック"),
    claim=Text(
        "Trained to reproduce its input, a network with a narrow middle layer compresses information: a few "
        "units keep most of what the image holds, and a two-unit bottleneck already arranges the digits by "
        "class without ever seeing a label.",
        "入力を再現するように学習（自己写像の学習）させると、少数のユニットからなる中間層で情報が圧縮される："
        "数個のユニットが画像の情報の大部分を保ち、2 ユニットのボトルネックでもラベルを一度も見ずに数字を"
        "クラスごとにまとめて配置する。"),
    look_for=Text(
        "Live reconstructions (top: input, bottom: output) sharpening while training, the 2-D latent map coloured "
        "by digit, and the reconstruction error for bottlenecks of 2, 8 and 32 units.",
        "学習とともに鮮明になる再構成（上：入力、下：出力）、数字ごとに色分けした 2 次元の潜在空間、"
        "ボトルネック 2・8・32 ユニットの再構成誤差。"),
    views=("reconstructions", "latent_map", "curves"),
    varies="bottleneck",
))

register_lab(LabDecl(
    id="depth_vs_width",
    section="gap",
    title=Text("Depth vs width on a function with a jump", "ジャンプのある関数での深さと幅"),
    claim=Text(
        "With the same number of parameters, a deep network approximates a function with a jump better than a "
        "shallow, wide one (layers can compose a step between smooth pieces); for a smooth function depth "
        "brings no such gain.",
        "パラメータ数が同じなら、ジャンプを持つ関数は浅く幅の広いネットワークより深いネットワークの方がよく近似"
        "できる（滑らかな関数を表す層の間に階段関数の層を挟める）。滑らかな関数では深さによるこのような改善はない。"),
    look_for=Text(
        "The fitted curves around the jump, and the test error of shallow vs deep (equal parameter counts, several "
        "seeds each trained as one batched ensemble) on the jump and on the smooth function.",
        "ジャンプ付近の近似曲線と、浅いネットワークと深いネットワーク（パラメータ数は同じ、それぞれ複数の乱数種を"
        "バッチ化アンサンブルで学習）のテスト誤差を、ジャンプのある関数と滑らかな関数で比べる。"),
    views=("curves", "function_fit", "summary_plot"),
    varies="architecture",
))

register_lab(LabDecl(
    id="lottery_ticket",
    section="gap",
    title=Text("Lottery tickets: pruning with rewinding", "宝くじ仮説：枝刈りと初期値への巻き戻し"),
    claim=Text(
        "A large network contains a small one that trains as well on its own: prune the smallest weights, rewind "
        "the survivors to their initial values and retrain — at 80% sparsity this 'winning ticket' stays within "
        "a few points of the dense network, while the same sparse structure with fresh random weights falls "
        "behind.",
        "巨大なネットワークは小さなネットワークの集合体で、学習によって当たりを引き当てている：小さい重みを枝刈りし、"
        "残った重みを初期値に巻き戻して再学習すると、80% を刈っても「当たりくじ」は密なネットワークとほぼ同じ"
        "性能を保つ。同じ疎な構造に新しい乱数の重みを入れると性能が落ちる。"),
    look_for=Text(
        "Test accuracy against sparsity for the rewound tickets and for the random re-initialisation control "
        "(trained side by side as one masked, batched ensemble).",
        "刈った割合ごとのテスト正解率を、巻き戻した当たりくじと乱数で初期化し直した対照とで比べる"
        "（マスク付きのバッチ化アンサンブルとして並べて学習）。"),
    views=("curves", "summary_plot"),
    varies="sparsity",
))

register_lab(LabDecl(
    id="loss_flatness",
    section="gap",
    title=Text("Loss flatness: small vs large batches", "損失の平坦性：小さいバッチと大きいバッチ"),
    claim=Text(
        "Small-batch SGD ends in a flatter region of the loss than large-batch training, and the flatter solution "
        "generalises at least as well: near a flat optimum the loss changes little when the weights move.",
        "小さなミニバッチの確率的勾配法は、大きなバッチでの学習より平坦な損失の領域に到達し、汎化性能も同等以上"
        "になる：最適なパラメータの近くで損失が平坦なら、重みが少し変わっても損失はほとんど変わらない。"),
    look_for=Text(
        "Plain SGD with batches of 16 and of 256 from the same start, each until its training loss is equally "
        "low; then the 1-D loss profiles and the 2-D loss surfaces around both solutions along filter-normalised "
        "random directions: the small-batch bowl is wider.",
        "同じ初期値から素の SGD でバッチサイズ 16 と 256 の学習を、学習損失が同じ低さになるまで行う。2 つの解の"
        "まわりで、フィルタ正規化したランダムな方向に沿った 1 次元の損失の断面と 2 次元の損失曲面を比べる："
        "小さなバッチの谷の方が広い。"),
    views=("landscape", "curves"),
    varies="batch_size",
))

register_lab(LabDecl(
    id="double_descent",
    section="gap",
    title=Text("Double descent", "二重降下"),
    claim=Text(
        "As the number of parameters grows, the test error first falls, then rises to a peak where the model "
        "can just fit every (noisy) training label — the interpolation threshold, parameters ≈ samples — and "
        "then falls again as the model keeps growing.",
        "パラメータ数を増やすと、汎化誤差は一旦下降したあと上昇に転じ、モデルが（ノイズを含む）学習データを"
        "ちょうど全部当てはめられるところ（補間閾値：パラメータ数 ≈ データ数）で最大になり、パラメータ数がデータ数より"
        "多くなると再度下降する。"),
    look_for=Text(
        "Test error against hidden width (log scale) with 20% of the training labels corrupted: a peak at the "
        "threshold marked on the axis, lower values on both sides. The hidden layer is random and fixed; the "
        "output layer is fitted exactly (minimum-norm least squares, where gradient descent from zero ends).",
        "学習ラベルの 20% を誤らせたときの、中間層の幅（対数軸）に対するテスト誤差：軸上に示した閾値で山になり、"
        "その両側で低い。中間層はランダムに固定し、出力層は厳密に当てはめる（勾配降下法をゼロから始めた場合の"
        "到達点である最小ノルムの最小二乗解）。"),
    views=("summary_plot",),
    varies="width",
))

register_lab(LabDecl(
    id="overparameterisation",
    section="gap",
    title=Text("Over-parameterisation: training loss vs width", "過剰パラメータ化：幅と学習損失"),
    claim=Text(
        "Make a layer wide enough and gradient descent drives the training loss to almost zero: an "
        "over-parameterised network does not get stuck in a poor local optimum.",
        "ある層のパラメータを一定以上過剰にすると、最急勾配法は損失関数の値をほぼ 0 にするパラメータに到達する："
        "過剰パラメータ化されたネットワークは悪い局所最適解で止まらない。"),
    look_for=Text(
        "Training-loss curves for widths from 2 to 256 units fitting digits with random labels (only memorising "
        "fits them), all trained as one padded, batched ensemble: the narrow ones level off high, the wide ones "
        "fall towards zero.",
        "ランダムなラベルを付けた数字（覚えるしか当てはめようがない）を学習する、中間層の幅 2〜256 ユニットの"
        "学習損失曲線（幅をそろえたバッチ化アンサンブルとして同時に学習）：幅の狭いものは高い値で止まり、幅の"
        "広いものは 0 へ向かって下がる。"),
    views=("curves", "summary_plot"),
    varies="width",
))
