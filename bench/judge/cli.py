"""`python -m bench.judge`: measure how well a model hosts, before trusting it with a server. See docs/JUDGING.md."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.judge.appeal import appeal_all, appeal_lines, summarise_appeals
from bench.judge.cases import Case, CaseError, builtin_cases, load_case_file
from bench.judge.metrics import summarise
from bench.judge.progress import Progress
from bench.judge.report import ReportError, chart, load_result, markdown, write_json
from bench.judge.runner import Endpoint, EndpointError, Limits, ReplyCache, Runner, RunOutcome, make_jobs
from bench.judge.turtlebench import is_turtlebench_folder, load_turtlebench
from bot.game.host import ModelHost
from bot.game.prompt_variants import VARIANTS
from bot.game.puzzles import PuzzleError, load_bank
from common.config import ConfigError, ModelConfig, load_config

log = logging.getLogger("bench.judge")

EXIT_USAGE = 2  # a bad argument, config, case file or result file
EXIT_ENDPOINT = 1  # the endpoint cannot be used


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.judge", description=__doc__)
    parser.add_argument("--set", default="builtin", help="builtin, a case file (YAML), or a TurtleBench folder")
    parser.add_argument("--language", choices=("en", "zh"), help="only cases in this language")
    parser.add_argument("--config", help="config.yaml whose `model` section names the endpoint")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key", help="key for that endpoint")
    parser.add_argument("--model", help="model name sent in each request")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the config's)")
    parser.add_argument(
        "--variant", nargs="+", action="extend", choices=(*VARIANTS, "all"), help="host prompts to compare"
    )
    parser.add_argument(
        "--verdict-format",
        nargs="+",
        action="extend",
        choices=("auto", "json_schema", "json_object", "text"),
        help="how verdicts are asked for (default: the config's model.verdict_format); several: compared side by side",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests at once (default 4)")
    parser.add_argument("--limit", type=int, help="at most N cases, spread evenly over the set")
    parser.add_argument("--retries", type=int, default=5, help="tries again after 429/5xx/dropped connections")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="first backoff in seconds (it doubles)")
    parser.add_argument("--max-seconds", type=float, help="stop the run after this long")
    parser.add_argument("--max-tokens", type=int, help="stop once this many tokens (estimated) are spent")
    parser.add_argument("--puzzles", nargs="+", default=[], help="extra puzzle packs the case file refers to")
    parser.add_argument("--cache", help="JSONL of answers received (default: next to --out)")
    parser.add_argument("--no-cache", action="store_true", help="ask every case afresh and keep nothing")
    parser.add_argument("--compare", nargs="+", default=[], help="earlier RESULT.json files to put beside this run")
    parser.add_argument("--out", required=True, help="RESULT.json to write (the .md and .png go beside it)")
    parser.add_argument(
        "--appeal", action="store_true", help="then appeal every contestable verdict of the first row, as the game does"
    )
    parser.add_argument("--appeal-samples", type=int, help="samples per appeal (default: the config's appeal.samples)")
    parser.add_argument("--appeal-base-url", help="the appeal model's endpoint (default: the config's appeal.model)")
    parser.add_argument("--appeal-model", help="the appeal model's name")
    parser.add_argument("--appeal-api-key", help="key for the appeal endpoint")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.retries < 0 or (args.limit is not None and args.limit < 1):
        parser.error("--concurrency and --limit must be at least 1, --retries at least 0")
    if args.appeal_samples is not None and args.appeal_samples < 1:
        parser.error("--appeal-samples must be at least 1")
    if not args.variant:
        args.variant = ["standard"]
    elif "all" in args.variant:
        args.variant = list(VARIANTS)
    else:
        args.variant = list(dict.fromkeys(args.variant))
    if args.verdict_format:
        args.verdict_format = list(dict.fromkeys(args.verdict_format))
    return args


def resolve_endpoint(args: argparse.Namespace) -> tuple[Endpoint, list[str]]:
    """The endpoint (command line over the config's `model` section over defaults) and the config's packs."""
    config = load_config(args.config) if args.config else None
    model = config.model if config else ModelConfig()
    packs: list[str] = []
    if config is not None:
        base = Path(args.config).parent
        packs = [str(path if Path(path).is_absolute() else base / path) for path in config.game.puzzle_files]
    endpoint = Endpoint(
        base_url=args.base_url or model.base_url,
        model=args.model or model.name,
        api_key=args.api_key if args.api_key is not None else model.api_key,
        temperature=model.temperature if args.temperature is None else args.temperature,
        max_tokens=model.max_tokens,
        first_token_timeout=max(model.first_token_timeout, 60.0),
        request_timeout=max(model.request_timeout, 180.0),
        thinking_timeout=model.thinking_timeout,
        verdict_format=args.verdict_format[0] if args.verdict_format else model.verdict_format,
    )
    if not args.verdict_format:
        args.verdict_format = [endpoint.verdict_format]
    return endpoint, packs


def resolve_appeal(args: argparse.Namespace, endpoint: Endpoint) -> tuple[Endpoint, int]:
    """The appeal model (command line over the config's `appeal.model` over the run's endpoint) and its samples."""
    config = load_config(args.config) if args.config else None
    samples = args.appeal_samples or (config.appeal.samples if config else 3)
    if config is not None and config.appeal.model_for(config.model) is not config.model:
        model = config.appeal.model_for(config.model)
        endpoint = replace(endpoint, base_url=model.base_url, model=model.name, api_key=model.api_key)
        endpoint = replace(endpoint, temperature=model.temperature, max_tokens=model.max_tokens)
    return replace(
        endpoint,
        base_url=args.appeal_base_url or endpoint.base_url,
        model=args.appeal_model or endpoint.model,
        api_key=args.appeal_api_key if args.appeal_api_key is not None else endpoint.api_key,
    ), samples


async def run_appeal(
    args: argparse.Namespace, endpoint: Endpoint, samples: int, outcome: RunOutcome
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Appeal the first row's contestable verdicts; its figures and each appeal."""
    row = row_names(args.variant, args.verdict_format)[0]
    scored = sorted((item for item in outcome.scored if item.variant == row), key=lambda item: item.case.id)
    host = ModelHost(replace(endpoint, verdict_format=args.verdict_format[0]).model_config())
    try:
        appealed, not_contestable, failed = await appeal_all(host, scored, samples, args.concurrency)
    finally:
        await host.close()
    figures = {"variant": row, "model": endpoint.model, "base_url": endpoint.base_url}
    figures |= summarise_appeals(appealed, not_contestable, failed, samples)
    return figures, [item.as_json() for item in appealed]


def load_set(args: argparse.Namespace, packs: Sequence[str]) -> tuple[list[Case], int]:
    """The cases to ask (and the TurtleBench lines skipped as unreadable)."""
    skipped = 0
    path = Path(args.set)
    if args.set != "builtin" and is_turtlebench_folder(path):
        cases, skipped = load_turtlebench(path, args.language)
    else:
        bank = load_bank([*packs, *args.puzzles], include_builtin=True)
        if args.set == "builtin":
            cases = builtin_cases(bank.by_id)
        elif path.is_file():
            cases = load_case_file(path, bank.by_id)
        else:
            raise CaseError(f"{path}: no such case file or TurtleBench folder (expected builtin, a file or a folder)")
        cases = [case for case in cases if args.language is None or case.puzzle.language == args.language]
    if not cases:
        raise CaseError(f"{args.set}: no case in language {args.language!r}")
    if args.limit is not None and args.limit < len(cases):
        cases = [cases[index * len(cases) // args.limit] for index in range(args.limit)]
    return cases, skipped


def row_names(variants: Sequence[str], formats: Sequence[str]) -> list[str]:
    """A row per prompt variant, and per verdict format when several are compared (as make_jobs names them)."""
    return [variant if len(formats) == 1 else f"{variant}/{kind}" for variant in variants for kind in formats]


def build_result(
    args: argparse.Namespace, endpoint: Endpoint, outcome: RunOutcome, cases: int, skipped: int, seconds: float
) -> dict[str, Any]:
    rows = row_names(args.variant, args.verdict_format)
    by_variant = {row: [item for item in outcome.scored if item.variant == row] for row in rows}
    failures = {row: sum(f["variant"] == row for f in outcome.failed) for row in rows}
    return {
        "run": {
            "set": args.set,
            "language": args.language,
            "base_url": endpoint.base_url,
            "model": endpoint.model,
            "temperature": endpoint.temperature,
            "variants": args.variant,
            "verdict_formats": args.verdict_format,
            "verdict_formats_taken": outcome.formats_used,
            "cases_per_variant": cases,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2),
            "requests": outcome.requests,
            "from_cache": outcome.from_cache,
            "failed": outcome.failed,
            "stopped": outcome.stopped,
            "pending": outcome.pending,
            "skipped_lines": skipped,
            "tokens_spent": outcome.tokens_spent,
            "tokens_note": "estimated with bot.game.prompts.estimate_tokens (the bot's own estimate), not billed",
        },
        "variants": {variant: summarise(items, failures[variant]) for variant, items in by_variant.items()},
        "cases": [item.as_json() for item in sorted(outcome.scored, key=lambda item: (item.variant, item.case.id))],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    try:
        endpoint, packs = resolve_endpoint(args)
        cases, skipped = load_set(args, packs)
        earlier = [load_result(Path(path)) for path in args.compare]
        jobs = make_jobs(cases, args.variant, endpoint, args.verdict_format)
        appeal_endpoint, appeal_samples = resolve_appeal(args, endpoint) if args.appeal else (endpoint, 0)
    except (ConfigError, CaseError, PuzzleError, ReportError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    limits = Limits(args.concurrency, args.retries, args.retry_delay, args.max_seconds, args.max_tokens)
    cache = ReplyCache(None if args.no_cache else Path(args.cache or out.with_suffix(".cache.jsonl")))
    started = time.monotonic()
    try:
        outcome = asyncio.run(Runner(endpoint, limits, cache, Progress()).run(jobs))
    except EndpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ENDPOINT
    finally:
        cache.close()
    result = build_result(args, endpoint, outcome, len(cases), skipped, time.monotonic() - started)
    if args.appeal:
        result["appeal"], result["appeal_cases"] = asyncio.run(
            run_appeal(args, appeal_endpoint, appeal_samples, outcome)
        )
    write_json(out, result)
    table = markdown([result, *earlier])
    if args.appeal:
        table += "\n".join(appeal_lines(result["appeal"])) + "\n"
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    drew = chart([result, *earlier], out.with_suffix(".png"))
    print(table)
    print(f"wrote {out}, {out.with_suffix('.md')}" + (f", {out.with_suffix('.png')}" if drew else ""))
    return 0
