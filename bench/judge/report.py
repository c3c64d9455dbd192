"""Writing a run down: RESULT.json, a Markdown table beside it, and a PNG chart comparing runs and variants."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.judge.cases import LABELS
from bench.judge.metrics import PREDICTIONS

log = logging.getLogger(__name__)

CHART_SERIES = ("accuracy", *(f"{label.value} recall" for label in LABELS))


class ReportError(ValueError):
    """A result file given to compare with cannot be read."""


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_result(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError(f"{path}: cannot read a RESULT.json to compare with: {error}") from None
    if not isinstance(result, dict) or not isinstance(result.get("variants"), dict):
        raise ReportError(f"{path}: not a bench.judge result (no `variants` mapping)")
    return result


def rows(results: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(run name, figures) for every variant of every result; the name says model and variant."""
    named = []
    for result in results:
        model = result.get("run", {}).get("model", "?")
        for variant, figures in result["variants"].items():
            named.append((f"{model} · {variant}", figures))
    return named


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}"


def _thought(thinking: dict[str, Any] | None) -> str:
    """Thinking tokens (estimated) and median thinking time; "–" for a variant whose model did not think."""
    if not thinking or not thinking["replies"]:
        return "–"
    lost = f", {thinking['no_verdict']} no verdict" if thinking["no_verdict"] else ""
    return f"{thinking['tokens']} · {_num(thinking['seconds_p50'])}{lost}"


def _pr(figures: dict[str, Any], label: str) -> str:
    entry = figures["per_label"][label]
    return f"{_pct(entry['precision'])} / {_pct(entry['recall'])}"


def markdown(results: Sequence[dict[str, Any]]) -> str:
    """The comparison table, then each run's confusion matrix (rows: label, columns: the host's verdict)."""
    run = results[0].get("run", {})
    lines = [
        f"# Host judging: {run.get('set', '?')} set, {run.get('language') or 'all languages'}",
        "",
        "| run | n | accuracy | "
        + " | ".join(f"{label.value} P / R" for label in LABELS)
        + " | unparsed | leaks | Correct on injections | key facts | p50 / p95 s | tokens | thinking tokens · p50 s |",
        "|---|---:|---:|" + "---:|" * len(LABELS) + "---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, figures in rows(results):
        facts = figures.get("key_facts")
        latency = figures["latency_s"]
        cells = [
            name,
            str(figures["n"]),
            _pct(figures["accuracy"]),
            *(_pr(figures, label.value) for label in LABELS),
            str(figures["unparsed"]),
            str(figures["leaks"]),
            str(figures["injections"]["false_correct"]),
            "–" if facts is None else f"{_pct(facts['agreement'])} of {facts['reported']}",
            f"{_num(latency['p50'])} / {_num(latency['p95'])}",
            str(figures["tokens"]["total"]),
            _thought(figures.get("thinking")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if run.get("stopped"):
        lines += ["", f"Stopped at the budget ({run['stopped']}); {run.get('pending', 0)} cases left unasked."]
    for name, figures in rows(results):
        header = " | ".join(p.value for p in PREDICTIONS)
        lines += [
            "",
            f"## {name}: confusion",
            "",
            f"| label \\ verdict | {header} |",
            "|---|" + "---:|" * len(PREDICTIONS),
        ]
        for label in LABELS:
            counts = figures["confusion"][label.value]
            lines.append(f"| {label.value} | " + " | ".join(str(counts[p.value]) for p in PREDICTIONS) + " |")
    return "\n".join(lines) + "\n"


def chart(results: Sequence[dict[str, Any]], path: Path) -> bool:
    """A grouped bar chart (accuracy and each label's recall) per run; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'matplotlib>=3.8'): no chart drawn")
        return False
    named = rows(results)
    width = 0.8 / max(len(named), 1)
    figure, axes = plt.subplots(figsize=(max(7.0, 1.6 * len(CHART_SERIES) + 0.4 * len(named)), 4.2))
    for index, (name, figures) in enumerate(named):
        values = [figures["accuracy"] or 0.0]
        values += [figures["per_label"][label.value]["recall"] or 0.0 for label in LABELS]
        positions = [group + (index - (len(named) - 1) / 2) * width for group in range(len(CHART_SERIES))]
        axes.bar(positions, [100 * value for value in values], width, label=name)
    axes.set_xticks(range(len(CHART_SERIES)), CHART_SERIES)
    axes.set_ylim(0, 100)
    axes.set_ylabel("%")
    axes.set_title("Host judging: accuracy and recall per verdict")
    axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
