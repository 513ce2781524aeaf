"""Training settings: optimizers, losses, schedules, regularisation, clipping, init, early stopping.

`TrainSpec` is the closed pydantic model a job carries. The `OPTIMIZERS`, `LOSSES`, `SCHEDULES`,
`INIT_SCHEMES` and `REGULARISERS` tables explain each choice (en/ja, chapter section) for the UI;
`training/optim.py`, `training/losses.py` and `training/init.py` map the same names to torch through
explicit dicts, and a unit test keeps the names in step with the Literal types below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Text
from .datasets import DataSpec

OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
LossName = Literal["auto", "cross_entropy", "mse", "bce", "sequence_cross_entropy"]
ScheduleName = Literal["constant", "step", "cosine", "linear_warmup"]
InitScheme = Literal["default", "xavier", "he", "zeros", "normal"]

NodeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OptimizerSpec(_Strict):
    name: OptimizerName = "adam"
    lr: float = Field(default=0.01, gt=0, le=10)
    momentum: float = Field(
        default=0.9, ge=0, lt=1,
        description="momentum for momentum / nesterov; the squared-gradient decay ρ for rmsprop",
    )
    beta1: float = Field(default=0.9, ge=0, lt=1, description="adam / adamw first-moment decay")
    beta2: float = Field(default=0.999, ge=0, lt=1, description="adam / adamw second-moment decay")


class ScheduleSpec(_Strict):
    name: ScheduleName = "constant"
    step_size: int = Field(default=10, ge=1, le=100_000, description="epochs between decays (step)")
    gamma: float = Field(default=0.5, gt=0, le=1, description="decay factor (step)")
    warmup_steps: int = Field(default=100, ge=1, le=100_000, description="linear_warmup length in steps")


class InitSpec(_Strict):
    scheme: InitScheme = "default"
    std: float = Field(default=0.01, gt=0, le=10, description="σ for the normal scheme")


class PretrainSpec(_Strict):
    """Transfer learning in one job: train on `data` first, then fine-tune on the job's own data set.

    The same model is used in both phases (so its output must suit both data sets); `freeze` lists
    node ids whose parameters stay fixed while fine-tuning.
    """

    data: DataSpec
    epochs: int = Field(default=3, ge=1, le=50)
    freeze: list[NodeId] = Field(
        default_factory=list, max_length=64, description="node ids kept fixed when fine-tuning"
    )
    lr: float | None = Field(default=None, gt=0, le=10, description="pretraining lr; default: the optimizer's lr")


class TrainSpec(_Strict):
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: LossName = "auto"
    target: Literal["label", "input"] = Field(
        default="label", description="'input' trains an autoencoder to reconstruct its input"
    )
    epochs: int = Field(default=10, ge=1, le=50)
    batch_size: int = Field(default=32, ge=1, le=512)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    weight_decay: float = Field(default=0.0, ge=0, le=1, description="L2 penalty (decoupled for adamw)")
    l1: float = Field(default=0.0, ge=0, le=1, description="L1 penalty on weights")
    clip_grad_norm: float | None = Field(default=None, gt=0, le=1000)
    early_stopping_patience: int = Field(default=0, ge=0, le=50, description="epochs without test improvement; 0 = off")
    init: InitSpec = Field(default_factory=InitSpec)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_steps: int | None = Field(default=None, ge=1, le=20_000)
    pretrain: PretrainSpec | None = Field(default=None, description="optional pretraining phase (transfer learning)")


# ---------------------------------------------------------------------------------------------
# Catalogue declarations: what each name means, for GET /api/catalogue and the UI's help text.


@dataclass(frozen=True)
class TrainingChoice:
    """One named choice of the training settings (an optimizer, a loss, a schedule, ...).

    `fields` names the TrainSpec fields (dotted) the choice reads, so the UI shows only those.
    """

    name: str
    title: Text
    description: Text
    section: str
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title.to_json(),
            "description": self.description.to_json(),
            "section": self.section,
            "fields": list(self.fields),
        }


def _table(*choices: TrainingChoice) -> dict[str, TrainingChoice]:
    return {c.name: c for c in choices}


OPTIMIZERS: dict[str, TrainingChoice] = _table(
    TrainingChoice(
        "sgd", Text("SGD", "確率的勾配降下法 (SGD)"),
        Text("Plain stochastic gradient descent: w ← w − lr·∇L on each mini-batch.",
             "ミニバッチごとに w ← w − lr·∇L と勾配の逆方向へ進む最も基本的な最適化器。"),
        "9.2", ("optimizer.lr",),
    ),
    TrainingChoice(
        "momentum", Text("Momentum", "モーメンタム"),
        Text("SGD with a running velocity: past gradients keep pushing, which damps zig-zags in narrow valleys.",
             "過去の勾配を速度として蓄積する SGD。細い谷での振動を抑えて速く進む。"),
        "9.3.1", ("optimizer.lr", "optimizer.momentum"),
    ),
    TrainingChoice(
        "nesterov", Text("Nesterov momentum", "ネステロフの加速勾配法"),
        Text("Momentum that evaluates the gradient after the look-ahead step; usually a little more stable.",
             "慣性で進んだ先の位置で勾配を評価するモーメンタム。通常わずかに安定する。"),
        "9.3.1", ("optimizer.lr", "optimizer.momentum"),
    ),
    TrainingChoice(
        "adagrad", Text("AdaGrad", "AdaGrad"),
        Text("Per-parameter step sizes shrink with the sum of squared past gradients: rare features keep large steps.",
             "過去の勾配の二乗和でパラメータごとに学習率を小さくする。まれな特徴は大きな更新を保つ。"),
        "9.3.1", ("optimizer.lr",),
    ),
    TrainingChoice(
        "rmsprop", Text("RMSProp", "RMSProp"),
        Text("Like AdaGrad but with a decaying average (ρ = momentum field) of squared gradients, so steps do not "
             "vanish.",
             "AdaGrad の二乗和を指数移動平均 (ρ は momentum 欄) に替え、学習率が 0 に縮まないようにした最適化器。"),
        "9.3.1", ("optimizer.lr", "optimizer.momentum"),
    ),
    TrainingChoice(
        "adam", Text("Adam", "Adam"),
        Text("Momentum (β1) plus RMSProp-style scaling (β2) with bias correction; a robust default.",
             "モーメンタム (β1) と RMSProp 型の正規化 (β2) を組み合わせ、初期バイアスを補正する。標準的な既定値。"),
        "9.3.1", ("optimizer.lr", "optimizer.beta1", "optimizer.beta2"),
    ),
    TrainingChoice(
        "adamw", Text("AdamW", "AdamW"),
        Text("Adam with decoupled weight decay: weights shrink directly instead of through the adaptive gradient.",
             "重み減衰を勾配から切り離した Adam。L2 正則化が適応的学習率で弱められない。"),
        "9.3.1", ("optimizer.lr", "optimizer.beta1", "optimizer.beta2", "weight_decay"),
    ),
)

LOSSES: dict[str, TrainingChoice] = _table(
    TrainingChoice(
        "auto", Text("Automatic", "自動"),
        Text("Chosen from the task: cross-entropy for classes, sequence cross-entropy for token sequences, "
             "MSE for regression and for reconstruction (target = input).",
             "タスクから選ぶ：クラス分類は交差エントロピー、系列は系列交差エントロピー、回帰と"
             "自己写像 (target = input) は二乗誤差。"),
        "9.2",
    ),
    TrainingChoice(
        "cross_entropy", Text("Cross-entropy", "交差エントロピー"),
        Text("Softmax over the output units, then −log of the probability of the true class.",
             "出力をソフトマックスで確率にし、正解クラスの確率の −log を損失とする。"),
        "9.2",
    ),
    TrainingChoice(
        "mse", Text("Mean squared error", "二乗誤差"),
        Text("Average squared difference between output and target; for regression and autoencoders.",
             "出力と目標の差の二乗の平均。回帰やオートエンコーダの再構成誤差に使う。"),
        "9.3.2",
    ),
    TrainingChoice(
        "bce", Text("Binary cross-entropy", "二値交差エントロピー"),
        Text("Sigmoid of each output, then the log-loss of a yes/no target; for two classes with one output unit.",
             "各出力をシグモイドで確率にし、0/1 の目標との対数損失をとる。出力 1 ユニットの二値分類用。"),
        "9.2",
    ),
    TrainingChoice(
        "sequence_cross_entropy", Text("Sequence cross-entropy", "系列交差エントロピー"),
        Text("Cross-entropy at every position of an output sequence, ignoring padding tokens.",
             "出力系列の各時刻で交差エントロピーをとり平均する。パディング記号は無視する。"),
        "9.5",
    ),
)

SCHEDULES: dict[str, TrainingChoice] = _table(
    TrainingChoice(
        "constant", Text("Constant", "一定"),
        Text("The learning rate stays the same for the whole run.", "学習率を最後まで変えない。"),
        "9.2",
    ),
    TrainingChoice(
        "step", Text("Step decay", "ステップ減衰"),
        Text("Multiply the learning rate by γ every step_size epochs.", "step_size エポックごとに学習率を γ 倍する。"),
        "9.3.1", ("schedule.step_size", "schedule.gamma"),
    ),
    TrainingChoice(
        "cosine", Text("Cosine", "コサイン減衰"),
        Text("Lower the learning rate along half a cosine from its start value to zero at the last step.",
             "学習率を余弦の半周期に沿って最後のステップで 0 になるまで下げる。"),
        "9.3.1",
    ),
    TrainingChoice(
        "linear_warmup", Text("Linear warm-up", "線形ウォームアップ"),
        Text("Raise the learning rate linearly over warmup_steps, then keep it; steadies Adam and "
             "Transformers early on.",
             "最初の warmup_steps で学習率を線形に上げ、その後は一定。Adam や Transformer の序盤を安定させる。"),
        "9.5", ("schedule.warmup_steps",),
    ),
)

INIT_SCHEMES: dict[str, TrainingChoice] = _table(
    TrainingChoice(
        "default", Text("PyTorch default", "PyTorch 既定"),
        Text("Each layer's own initialisation (scaled uniform).", "各層の既定の初期化 (入力数で縮めた一様分布)。"),
        "9.3.1",
    ),
    TrainingChoice(
        "xavier", Text("Xavier (Glorot)", "Xavier (Glorot)"),
        Text("Variance 2/(fan_in+fan_out): keeps signal size steady through tanh and sigmoid layers.",
             "分散 2/(入力数+出力数)。tanh やシグモイドの層を通しても信号の大きさを保つ。"),
        "9.3.1",
    ),
    TrainingChoice(
        "he", Text("He (Kaiming)", "He (Kaiming)"),
        Text("Variance 2/fan_in: compensates for ReLU zeroing half its inputs, so deep ReLU nets keep their gradients.",
             "分散 2/入力数。ReLU が半分を 0 にする分を補い、深い ReLU ネットでも勾配が消えにくい。"),
        "9.3.1",
    ),
    TrainingChoice(
        "zeros", Text("Zeros (fails)", "ゼロ (失敗例)"),
        Text("All weights start at 0: every hidden unit computes the same thing and gets the same gradient, so they "
             "stay identical forever — the symmetry is never broken and the layer acts like one unit.",
             "重みをすべて 0 にすると、中間層のユニットは同じ値を出し同じ勾配を受けるため、ずっと同一のままになる。"
             "対称性が崩れず、層全体が 1 ユニット分の働きしかしない。"),
        "9.3.1",
    ),
    TrainingChoice(
        "normal", Text("Normal(σ)", "正規分布 (σ)"),
        Text("Weights drawn from N(0, σ²); too small a σ makes signals and gradients vanish in deep nets.",
             "重みを N(0, σ²) から引く。σ が小さすぎると深いネットで信号も勾配も消える。"),
        "9.3.1", ("init.std",),
    ),
)

REGULARISERS: dict[str, TrainingChoice] = _table(
    TrainingChoice(
        "l1", Text("L1 penalty", "L1 正則化"),
        Text("Adds l1·Σ|w| to the loss: pushes many weights to exactly zero (sparse networks).",
             "損失に l1·Σ|w| を加える。多くの重みをちょうど 0 にし、疎なネットワークにする。"),
        "9.3.3", ("l1",),
    ),
    TrainingChoice(
        "l2", Text("L2 / weight decay", "L2 正則化 (重み減衰)"),
        Text("Shrinks every weight a little each step (decoupled from the gradient for AdamW): smoother functions, "
             "less over-fitting.",
             "毎ステップ重みを少しずつ縮める (AdamW では勾配と切り離す)。関数が滑らかになり過学習を抑える。"),
        "9.3.3", ("weight_decay",),
    ),
    TrainingChoice(
        "clipping", Text("Gradient clipping", "勾配クリッピング"),
        Text("Rescales the gradient when its norm exceeds the limit; prevents exploding updates, common for RNNs.",
             "勾配のノルムが上限を超えたら縮める。RNN でよく起こる勾配爆発による更新の暴走を防ぐ。"),
        "9.5", ("clip_grad_norm",),
    ),
    TrainingChoice(
        "early_stopping", Text("Early stopping", "早期終了"),
        Text("Stops when the test loss has not improved for `patience` epochs, before the net starts to over-fit.",
             "テスト損失が patience エポック改善しなければ学習を止め、過学習が進む前に終える。"),
        "9.3.3", ("early_stopping_patience",),
    ),
)


def training_catalogue_json() -> dict[str, Any]:
    """The training part of GET /api/catalogue: every choice with its help text, plus the TrainSpec schema."""
    return {
        "optimizers": [c.to_json() for c in OPTIMIZERS.values()],
        "losses": [c.to_json() for c in LOSSES.values()],
        "schedules": [c.to_json() for c in SCHEDULES.values()],
        "init_schemes": [c.to_json() for c in INIT_SCHEMES.values()],
        "regularisers": [c.to_json() for c in REGULARISERS.values()],
        "train_schema": TrainSpec.model_json_schema(),
        "train_defaults": TrainSpec().model_dump(mode="json"),
    }
