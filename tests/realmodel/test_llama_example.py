"""The llama.cpp example of docs/SERVERS.md, as documented, against the real llama.cpp server."""

from __future__ import annotations

from pathlib import Path

from bot.game.facts import strip_facts_line
from bot.game.host import ModelHost
from bot.game.prompt_variants import builder_for, variant_of, verdict_form
from bot.game.puzzles import builtin_puzzles
from bot.game.verdict import Verdict, parse_verdict
from tests.common.test_server_examples import load_example
from tests.realmodel.llama_server import LlamaServer


async def test_the_documented_llama_cpp_config_gets_structured_verdicts(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    documented = load_example("llama-cpp", tmp_path).model
    # Only the port differs from the page (the test server takes a free one); a short reply keeps it quick.
    model = documented.model_copy(update={"base_url": llama_server.base_url, "max_tokens": 24})
    host = ModelHost(model)
    puzzle = next(puzzle for puzzle in builtin_puzzles() if puzzle.id == "en-hiccup-bar")
    messages = builder_for(host)(puzzle, [], "Did the gun help the man?", 1400)
    try:
        reply = "".join(
            [delta async for delta in host.stream(messages, verdict=verdict_form(variant_of(host), puzzle))]
        )
    finally:
        await host.close()
    assert parse_verdict(strip_facts_line(reply)) is not Verdict.UNCLEAR
    assert host.formats.current == "json_object"  # llama-cpp-python's server: json_schema refused, then learnt
