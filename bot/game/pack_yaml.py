"""Reading a puzzle pack's YAML without letting a few hundred bytes stand for gigabytes.

An alias (`*name`) makes PyYAML hand back the anchored list or mapping itself, shared, so nine
levels of "ten aliases of the level below" parse in microseconds yet stand for a billion items:
anything that walks or prints the result afterwards (an error message, json.dumps) expands them.
Aliases have honest uses (PyYAML's own dumper writes one for a list shared by two puzzles), so they
are allowed while the pack they expand to stays within a few times the text written, and refused
with the line where it grows past that. Error messages echo a value only through `echo` or
`echo_name`, which never print more than a few dozen characters of it.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode

# What aliases may expand a pack to: this many times its text, plus room for a small pack.
EXPANSION_FACTOR = 4
EXPANSION_SLACK = 10_000
ECHO_CHARACTERS = 120  # the most of any one value an error message shows (an id is at most 100)
_ECHO = reprlib.Repr()  # reprlib stops at each limit instead of building the whole repr first
_ECHO.maxlevel, _ECHO.maxlist, _ECHO.maxdict = 2, 3, 3
_ECHO.maxstring = _ECHO.maxother = ECHO_CHARACTERS


class PackLoader(yaml.SafeLoader):
    """safe_load's loader, refusing a document whose aliases expand it past `budget` characters."""

    budget = EXPANSION_SLACK

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None:
            check_expansion(node, self.budget)
        return node


def load_pack_yaml(text: str) -> Any:
    """The pack's YAML as plain data; yaml.YAMLError for bad YAML or for aliases that expand too far."""
    loader = PackLoader(text)
    loader.budget = EXPANSION_FACTOR * len(text) + EXPANSION_SLACK
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, CollectionNode) else []


def check_expansion(root: Node, budget: int) -> None:
    """Raise ComposerError where the node graph, with every alias written out, passes `budget` characters
    (a scalar weighs its length + 1, a list or mapping 1 + its items), or where an alias holds itself.
    Each shared node is weighed once, so this costs the size of the text, not of its expansion."""
    weights: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes the walk is inside: meeting one again is a cycle
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            own = 1 + len(node.value) if isinstance(node, ScalarNode) else 1
            weights[key] = own + sum(weights[id(child)] for child in _children(node))
            if weights[key] > budget:
                problem = (
                    f"aliases (*name) here expand the pack past {budget:,} characters "
                    f"({EXPANSION_FACTOR} times its own size); write the repeated parts out instead"
                )
                raise ComposerError(None, None, problem, node.start_mark)
            continue
        if key in weights:
            continue
        if key in open_nodes:
            raise ComposerError(None, None, "an alias (*name) here holds the list or mapping it is in", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def echo(value: Any) -> str:
    """A value as an error message may quote it: a repr cut short, however large the value."""
    shown = _ECHO.repr(value)
    return shown if len(shown) <= ECHO_CHARACTERS else shown[: ECHO_CHARACTERS - 1] + "…"


def echo_name(value: Any) -> str:
    """A key as an error message names it: text as it is (cut short), anything else as `echo` shows it."""
    if not isinstance(value, str):
        return echo(value)
    return value if len(value) <= ECHO_CHARACTERS else value[: ECHO_CHARACTERS - 1] + "…"
