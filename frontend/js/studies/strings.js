// The sweep's wording (Japanese first), added to the UI's one string table like the labs view's.
import { STRINGS } from "../strings.js";

const s = (ja, en) => ({ ja, en });

Object.assign(STRINGS, {
  "study.button": s("比較実験", "Sweep"),
  "study.button.title": s("1 つの設定だけを変えた学習をまとめて実行し、重ねて比べる",
    "Train several runs that differ in one setting and compare them together"),
  "study.vary": s("変える設定", "Setting to vary"),
  "study.values": s("値（カンマ区切り）", "Values (comma-separated)"),
  "study.now": s("現在: {v}", "now: {v}"),
  "study.submit": s("実行", "Run"),
  "study.cancel": s("閉じる", "Close"),
  "study.opt": s("最適化器", "Optimizer"),
  "study.lr": s("学習率", "Learning rate"),
  "study.seed": s("乱数シード", "Seed"),
  "study.units": s("{node} のユニット数", "Units of {node}"),
  "study.title": s("比較実験: {v}", "Sweep: {v}"),
  "study.curves": s("学習損失（値ごと）", "Training loss per value"),
  "study.summary": s("最終結果と設定の値", "Final result vs the value"),
  "study.summary.wait": s("学習が終わると表示されます", "Shown when the runs finish"),
  "study.mode.batched": s("1 つのジョブでまとめて学習", "trained together in one job"),
  "study.mode.jobs": s("値ごとに別のジョブ", "one job per value"),
  "study.err.two": s("値を 2 つ以上、カンマで区切って入力してください", "Enter two or more values, separated by commas"),
  "study.err.value": s("使えない値です: {value}", "Not a usable value: {value}"),
  "study.err.repeat": s("同じ値が 2 回あります: {value}", "The same value twice: {value}"),
});
