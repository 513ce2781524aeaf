// How a lab's machine names read to a learner: variants ("leaky_relu", "none/2", "deep/jump/0"), metrics
// ("test_accuracy") and varied settings ("batch_size") in Japanese or English, and one colour per variant group.
// Names without an entry are shown as they are, with underscores as spaces, so a new lab still reads.
import { getLang } from "../i18n.js";

const s = (ja, en) => ({ ja, en });

const WORDS = {
  // activations and optimizers keep their usual names in both languages
  relu: s("ReLU", "ReLU"), tanh: s("tanh", "tanh"), sigmoid: s("シグモイド", "sigmoid"),
  leaky_relu: s("LeakyReLU", "LeakyReLU"), elu: s("ELU", "ELU"), gelu: s("GELU", "GELU"),
  sgd: s("SGD", "SGD"), momentum: s("モーメンタム", "Momentum"), nesterov: s("Nesterov", "Nesterov"),
  adagrad: s("AdaGrad", "AdaGrad"), rmsprop: s("RMSProp", "RMSProp"), adam: s("Adam", "Adam"), adamw: s("AdamW", "AdamW"),
  none: s("ドロップアウトなし", "no dropout"), inverted: s("逆ドロップアウト", "inverted"),
  scale_at_inference: s("認識時に縮小", "scale at inference"),
  pretrained: s("事前学習あり", "pretrained"), pretrain: s("事前学習（MNIST）", "pretraining (MNIST)"), random: s("ランダム初期値", "random init"),
  pretrain_h1: s("事前学習 1 層目", "pretrain layer 1"), pretrain_h2: s("事前学習 2 層目", "pretrain layer 2"),
  pretrain_h3: s("事前学習 3 層目", "pretrain layer 3"),
  shallow: s("浅い", "shallow"), deep: s("深い", "deep"), jump: s("ジャンプ", "jump"), smooth: s("滑らか", "smooth"),
  ticket: s("当たりくじ", "ticket"), reinit: s("再初期化", "re-init"), dense: s("密", "dense"),
  small_batch: s("小さいバッチ", "small batch"), large_batch: s("大きいバッチ", "large batch"),
  fixed: s("スライドのフィルタ", "slide filters"), learned: s("学習したフィルタ", "learned filters"),
  pixels: s("画素のまま", "raw pixels"), input: s("入力", "input"), random_weights: s("ランダムな重み", "random weights"),
  cnn: s("CNN", "CNN"), no_pool: s("プーリングなし", "no pooling"), no_batchnorm: s("バッチ標準化なし", "no batch norm"),
  frozen: s("畳み込み層を固定", "frozen features"), fine_tuned: s("全体を微調整", "fine-tuned"),
  scratch: s("一から学習", "from scratch"),
  rnn: s("RNN", "RNN"), lstm: s("LSTM", "LSTM"),
  one_direction: s("一方向", "one direction"), bidirectional: s("双方向", "bidirectional"),
  attention: s("アテンションあり", "attention"), no_attention: s("アテンションなし", "no attention"),
  test_error: s("テスト誤差", "test error"), rosenbrock: s("Rosenbrock 関数", "Rosenbrock"),
  block: s("自己注意層", "self-attention"),
  mean: s("平均値フィルタ", "mean"), edge_vertical: s("縦エッジ", "vertical edge"),
  edge_horizontal: s("横エッジ", "horizontal edge"),
};

// Parametrised names: bottleneck_8, width_64, round_2, 4_heads, T=50.
const PATTERNS = [
  [/^bottleneck_(\d+)$/, (m) => s(`ボトルネック ${m[1]}`, `bottleneck ${m[1]}`)],
  [/^width_(\d+)$/, (m) => s(`幅 ${m[1]}`, `width ${m[1]}`)],
  [/^round_(\d+)$/, (m) => s(`${m[1]} 回目`, `round ${m[1]}`)],
  [/^(\d+)_heads$/, (m) => s(`${m[1]} ヘッド`, `${m[1]} heads`)],
  [/^T=(\d+)$/, (m) => s(`T=${m[1]}`, `T=${m[1]}`)],
];

// Measured quantities and the keys of a lab's measurements.
const METRICS = {
  test_accuracy: s("テスト正解率", "test accuracy"), train_accuracy: s("学習正解率", "train accuracy"),
  train_loss: s("学習損失", "training loss"), test_loss: s("テスト損失", "test loss"),
  test_error: s("テスト誤差", "test error"), gap: s("学習とテストの差", "train–test gap"),
  ticket: s("当たりくじ", "rewound ticket"), reinit: s("再初期化（対照）", "random re-init"),
  loss: s("損失", "loss"), accuracy: s("正解率", "accuracy"), parameters: s("パラメータ数", "parameters"),
  steps: s("ステップ数", "steps"), seeds: s("乱数種の数", "seeds"), samples: s("データ数", "samples"),
  epochs: s("エポック数", "epochs"), label_noise: s("誤ラベルの割合", "label noise"), threshold: s("補間閾値", "threshold"),
  peak_width: s("誤差が最大の幅", "width at the peak"), widths: s("中間層の幅", "widths"), width: s("幅", "width"),
  depth: s("中間層の数", "depth"), variance: s("分散", "variance"),
  latent_knn_accuracy: s("潜在空間の近傍 5 点での正解率", "5-NN accuracy in the code space"),
  test_mse: s("テスト二乗誤差", "test MSE"), variance_explained: s("保たれた分散の割合", "variance kept"),
  bottlenecks: s("ボトルネックの幅", "bottleneck"), layers: s("層", "layer"), grad_norms: s("勾配ノルム", "gradient norm"),
  first_over_last: s("入力側 / 出力側の勾配比", "first / last layer gradient"), lr: s("学習率", "learning rate"),
  results: s("結果", "results"), network: s("ネットワーク", "network"),
  distance_to_minimum: s("最小点までの距離", "distance to minimum"), end: s("終点", "end"), start: s("始点", "start"),
  surface_steps: s("曲面上のステップ数", "steps on the surface"),
  labels_per_class: s("1 クラスのラベル数", "labels per class"), pretrain_steps: s("事前学習のステップ数", "pretraining steps"),
  finetune_steps: s("fine-tuning のステップ数", "fine-tuning steps"),
  pretrained_test_accuracy: s("事前学習ありのテスト正解率", "pretrained test accuracy"),
  random_test_accuracy: s("ランダム初期値のテスト正解率", "random-init test accuracy"),
  reconstruction_loss: s("再構成誤差", "reconstruction loss"), per_seed: s("乱数種ごと", "per seed"),
  deep_hidden: s("深い方の中間層", "deep hidden layers"), shallow_hidden: s("浅い方の中間層", "shallow hidden layer"),
  deep_params: s("深い方のパラメータ数", "deep parameters"), shallow_params: s("浅い方のパラメータ数", "shallow parameters"),
  jump_ratio: s("ジャンプでの誤差比（深い / 浅い）", "jump error ratio (deep / shallow)"),
  smooth_ratio: s("滑らかな関数での誤差比", "smooth error ratio"), median_test_mse: s("テスト二乗誤差の中央値", "median test MSE"),
  modes_test_difference: s("2 方式のテスト正解率の差", "difference between the modes"), p: s("消す確率 p", "drop rate p"),
  test_accuracy_per_seed: s("乱数種ごとのテスト正解率", "test accuracy per seed"), rounds: s("枝刈りの各回", "rounds"),
  round: s("回", "round"), sparsity: s("枝刈りの割合", "sparsity"), final_sparsity: s("最終の枝刈りの割合", "final sparsity"),
  steps_per_round: s("1 回のステップ数", "steps per round"), hidden: s("中間層", "hidden layers"),
  dense_test_accuracy: s("密なネットワークのテスト正解率", "dense test accuracy"),
  ticket_test_accuracy: s("当たりくじのテスト正解率", "ticket test accuracy"),
  reinit_test_accuracy: s("再初期化のテスト正解率", "re-init test accuracy"),
  target_train_loss: s("目標の学習損失", "target training loss"), directions: s("方向の数", "directions"),
  alphas: s("方向に沿った距離", "distances"), batch_size: s("バッチサイズ", "batch size"),
  sharpness: s("鋭さ（損失の平均上昇）", "sharpness (mean loss rise)"), profile: s("損失の断面", "loss profile"),
  steps_per_variant: s("1 つあたりのステップ数", "steps per variant"),
  learned_filter_matches: s("学習したフィルタに最も近いスライドのフィルタ", "closest slide filter per learned filter"),
  filter: s("フィルタ", "filter"), closest: s("最も近いもの", "closest"), abs_cosine: s("|cos|", "|cos|"),
  variants: s("比較したもの", "variants"), first_epoch_loss: s("最初のエポックの平均損失", "first-epoch loss"),
  retained: s("保たれた正解率の割合", "accuracy retained"), shift_1px_accuracy: s("1 画素ずらしたときの正解率", "accuracy shifted 1 px"),
  shift_2px_accuracy: s("2 画素ずらしたときの正解率", "accuracy shifted 2 px"),
  shift_1px_retained: s("1 画素での保持率", "retained at 1 px"), shift_2px_retained: s("2 画素での保持率", "retained at 2 px"),
  pooling_holds: s("プーリングの効果", "pooling effect seen"), batchnorm_holds: s("バッチ標準化の効果", "batch-norm effect seen"),
  steps_per_epoch: s("1 エポックのステップ数", "steps per epoch"),
  accuracy_by_length: s("入力系列長ごとの正解率", "accuracy by source length"),
  antidiagonal_weight: s("逆対角に向けた注意の重み", "attention on the anti-diagonal"),
  long_accuracy: s("長い系列での正解率", "accuracy on long sequences"), longest: s("最長の系列長", "longest source"),
  heads: s("ヘッド数", "heads"), offset_attention: s("位置のずれごとの注意", "attention by offset"),
  left_head: s("左隣を見るヘッド", "left-neighbour head"), right_head: s("右隣を見るヘッド", "right-neighbour head"),
  lengths: s("系列長", "sequence lengths"), length: s("系列長", "sequence length"),
  first_token_gradient: s("最初のトークンに届く勾配", "gradient reaching the first token"),
  past_only_bound: s("過去だけから可能な最高正解率", "best accuracy from the past alone"),
  pretrain_test_accuracy: s("事前学習でのテスト正解率", "pretraining test accuracy"),
  text: s("文", "sentence"), tokens: s("トークン", "tokens"), row_sum_max_error: s("行和の最大誤差", "largest row-sum error"),
  per_layer: s("層ごと", "per layer"), n_train: s("学習データ数", "training sentences"), n_test: s("テストデータ数", "test sentences"),
  neighbours: s("隣への注意", "on neighbours"), cls_sep: s("[CLS]/[SEP] への注意", "on [CLS]/[SEP]"),
  random_weights: s("ランダムな重み", "random weights"),
};

const SETTINGS = {
  activation: s("活性化関数", "activation"), optimizer: s("最適化器", "optimizer"), dropout: s("ドロップアウト", "dropout"),
  initialisation: s("初期値", "initialisation"), bottleneck: s("ボトルネックの幅", "bottleneck"),
  architecture: s("構造", "architecture"), sparsity: s("枝刈りの割合", "sparsity"), batch_size: s("バッチサイズ", "batch size"),
  width: s("中間層の幅", "hidden width"), filters: s("フィルタ", "filters"), "initial weights": s("初期の重み", "initial weights"),
  "cell and sequence length": s("セルと系列長", "cell and sequence length"), direction: s("方向", "direction"),
  attention: s("アテンション", "attention"), head: s("ヘッド", "head"), embeddings: s("埋め込み", "embeddings"),
};

// What a summary plot's x axis measures when its lines are the lab's variants (not the varied setting itself).
const SUMMARY_X = {
  pooling_batchnorm: s("ずらした画素数", "shift (pixels)"), rnn_vs_lstm: s("系列長", "sequence length"),
  seq2seq_attention: s("入力系列長", "source length"), transfer_learning: s("1 クラスのラベル数", "labels per class"),
};

function word(entry, fallback) {
  return entry ? entry[getLang()] ?? entry.en : String(fallback).replaceAll("_", " ");
}

/** One path segment of a variant name in the current language. */
export function partLabel(part) {
  if (WORDS[part]) return word(WORDS[part]);
  for (const [re, fn] of PATTERNS) {
    const m = re.exec(part);
    if (m) return word(fn(m));
  }
  return word(null, part);
}

/**
 * A variant's group and replicate: "none/2" is seed 2 of group "none"; "deep/jump/0" seed 0 of "deep/jump";
 * "rnn/T=50" is a group of its own (the last part names a condition, not a seed).
 */
export function splitVariant(name) {
  const parts = String(name).split("/");
  if (parts.length > 1 && /^\d+$/.test(parts.at(-1))) {
    return { group: parts.slice(0, -1).join("/"), replicate: parts.at(-1) };
  }
  return { group: String(name), replicate: null };
}

export function variantLabel(name) {
  return String(name).split("/").map(partLabel).join(" · ");
}

export function metricLabel(name) {
  return word(METRICS[name], name);
}

/** A key of a lab's measurements: a measured quantity, else a variant's name, else the key itself. */
export function keyLabel(key) {
  if (METRICS[key]) return word(METRICS[key]);
  const per = /^(\d+)_per_class$/.exec(key);
  if (per) return word(s(`1 クラス ${per[1]} 枚`, `${per[1]} per class`));
  return variantLabel(key);
}

export function settingLabel(varies) {
  return word(SETTINGS[varies], varies);
}

/** The x-axis title of a lab's summary plot: the points' own `x_label` if they carry one; else, for lines
 * by metric, the varied setting; for lines by variant, what this lab puts on x. */
export function summaryAxis(lab, points, byMetric) {
  const named = points.find((p) => p.x_label)?.x_label;
  if (named) return word(null, typeof named === "object" ? named[getLang()] ?? named.en : named);
  if (!byMetric && SUMMARY_X[lab.id]) return word(SUMMARY_X[lab.id]);
  return settingLabel(lab.varies);
}

// Distinct, print-friendly hues (the playground's orange/blue first), enough for the largest lab.
export const VARIANT_COLORS = ["#0877bd", "#f59322", "#2f9e5b", "#d64545", "#9b59b6", "#16a2b8", "#c0a020",
  "#e377c2", "#546f94", "#8c564b", "#7f7f7f", "#17becf"];

const METRIC_COLORS = { test_accuracy: "#0877bd", train_accuracy: "#9cc7e8", train_loss: "#f59322",
  test_loss: "#c46f10", test_error: "#d64545", ticket: "#2f9e5b", reinit: "#8a96a6", gap: "#9b59b6" };

/** A metric's colour in summary plots (a test value dark, its training counterpart pale). */
export function metricColor(name, palette) {
  return METRIC_COLORS[name] ?? palette.color(`metric:${name}`);
}

/** A stable colour per group, in first-seen order. */
export class Palette {
  constructor() {
    this.map = new Map();
  }

  color(group) {
    if (!this.map.has(group)) this.map.set(group, VARIANT_COLORS[this.map.size % VARIANT_COLORS.length]);
    return this.map.get(group);
  }
}
