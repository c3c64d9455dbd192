"""A server's own puzzles through the real bot: /puzzle add (a form), list, remove, export, import, who may
use them, bad input (named by puzzle and field, nothing stored), and /play picking them in their server only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import simcord
import yaml

from bot.game.puzzles import parse_pack
from tests.bot_fixtures import Table
from tests.fakes.puzzle_texts import ONE_PUZZLE_PACK

ZH_FORM = {
    "title": "雨夜的灯",
    "story": "一个男人每晚都在窗边点一盏灯。有一天他没有点灯，第二天早上海边出了事。",
    "answer": "男人是灯塔看守人，他家的窗灯就是渔船回港的信号。那晚他生病睡着了，没有点灯，一艘渔船因此在礁石上触礁。",
    "key_facts": "男人是灯塔看守人\n窗灯是渔船回港的信号\n\n渔船因为没有灯触礁\n",
    "hints": "想想他的职业。",
}

EN_ENTRY = {
    "id": "silent-piano",
    "language": "en",
    "difficulty": "easy",
    "title": "The Silent Piano",
    "story": "A woman plays a piano in an empty hall every night. One night she stops mid-song and calls the police.",
    "answer": "The woman is blind and plays by ear. She always hears the caretaker sweeping at the back of the hall; "
    "that night the sweeping stopped and she heard a stranger breathing instead, so she knew someone had broken in.",
    "key_facts": ["The woman is blind", "She listens for the caretaker sweeping", "She heard a stranger breathing"],
    "hints": ["What can she not do?"],
}


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    pack = tmp_path / "bank.yaml"
    pack.write_text(ONE_PUZZLE_PACK, encoding="utf-8")
    game = {"include_builtin": False, "puzzle_files": [str(pack)], "question_cooldown": 0}
    return {"game": {**game, "puzzle_admin_role": "Puzzlers", "max_custom_puzzles": 3}}


async def stored(client: aioredis.Redis, table: Table) -> dict[str, str]:
    return await client.hgetall(f"soup:{{g{table.channel.guild.id}}}:puzzles")


async def add_by_form(member: simcord.MemberActor, table: Table, values: dict, **options: str) -> str:
    shown = await member.slash(table.channel, "puzzle add", **options)
    assert shown.modal is not None and len(shown.modal["components"]) == 5  # Discord's most
    result = await member.submit_modal(shown, values)
    assert result.ephemeral
    return result.response.content


def pack_file(*entries: dict) -> tuple[str, bytes]:
    return "pack.yaml", yaml.safe_dump({"puzzles": list(entries)}, allow_unicode=True).encode("utf-8")


async def test_a_puzzle_added_by_form_is_played_in_its_server_and_not_in_another(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis
) -> None:
    added = await add_by_form(admin, table, ZH_FORM, language="zh", difficulty="hard")
    assert added.startswith("Added **雨夜的灯** (`puzzle-") and "zh, hard" in added
    [puzzle_id] = list(await stored(client, table))
    listed = (await admin.slash(table.channel, "puzzle list")).response.content
    assert f"`{puzzle_id}` · zh · hard · 雨夜的灯" in listed

    # /play in zh: the bank has only English puzzles, so the server's own is the one picked.
    story = (await table.alice.slash(table.channel, "play", language="zh")).response.embeds[0]
    assert story.title == "🐢 雨夜的灯" and story.description == ZH_FORM["story"]
    await table.alice.slash(table.channel, "stop")
    english = (await table.alice.slash(table.channel, "play", language="en")).response.embeds[0]
    assert english.title == "🐢 The Bank Puzzle"  # the bank still plays alongside

    elsewhere = table.env.create_guild()
    channel = elsewhere.create_text_channel("soup")
    stranger = elsewhere.add_member(table.env.create_user("stranger"))
    refused = await stranger.slash(channel, "play", language="zh")
    assert refused.ephemeral and "No puzzles in that language" in refused.response.content

    removed = await admin.slash(table.channel, "puzzle remove", puzzle_id=puzzle_id)
    assert removed.response.content == f"Removed `{puzzle_id}`."
    assert await stored(client, table) == {}
    again = await admin.slash(table.channel, "puzzle remove", puzzle_id=puzzle_id)
    assert "has no puzzle" in again.response.content


async def test_a_bad_form_names_the_field_and_stores_nothing(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis
) -> None:
    one_fact = {**ZH_FORM, "key_facts": "男人是灯塔看守人"}
    shown = await add_by_form(admin, table, one_fact, language="zh")
    assert shown.startswith("Nothing was stored. Please fix:\n• /puzzle add: puzzle 'puzzle-")
    assert "key_facts: expected 2 to 5 key facts, got 1" in shown
    stated = {**ZH_FORM, "key_facts": "一个男人每晚都在窗边点一盏灯\n窗灯是渔船回港的信号"}
    shown = await add_by_form(admin, table, stated, language="zh")
    assert "key_facts: key fact 1: already stated in the story" in shown
    assert await stored(client, table) == {}


async def test_only_managers_and_the_configured_role_manage_puzzles(table: Table, client: aioredis.Redis) -> None:
    for command in ("puzzle add", "puzzle list", "puzzle export"):
        refused = await table.bob.slash(table.channel, command)
        assert refused.ephemeral and refused.modal is None
        assert refused.response.content == (
            "Only members with the Manage Server permission or the **Puzzlers** role can manage this server's puzzles."
        )
    puzzlers = table.channel.guild.create_role("Puzzlers")
    carol = table.channel.guild.add_member(table.env.create_user("carol"), roles=[puzzlers])
    assert (await add_by_form(carol, table, ZH_FORM, language="zh")).startswith("Added")


async def test_export_and_import_round_trip_and_bad_packs_store_nothing(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis
) -> None:
    empty = await admin.slash(table.channel, "puzzle export")
    assert "no puzzles of its own" in empty.response.content

    imported = await admin.slash(table.channel, "puzzle import", file=pack_file(EN_ENTRY))
    assert imported.response.content == (
        "Imported 1 puzzle(s) from pack.yaml (0 replaced one with the same id). This server now has 1."
    )
    await add_by_form(admin, table, ZH_FORM, language="zh")

    exported = await admin.slash(table.channel, "puzzle export")
    assert exported.ephemeral and exported.response.content.startswith("This server's 2 puzzle(s)")
    [attachment] = exported.response.attachments
    text = (await attachment.read()).decode("utf-8")
    puzzles = {puzzle.id: puzzle for puzzle in parse_pack(text, attachment.filename)}  # the pack format
    assert puzzles["silent-piano"].key_facts == tuple(EN_ENTRY["key_facts"])
    assert puzzles["silent-piano"].difficulty == "easy" and puzzles["silent-piano"].hints == ("What can she not do?",)
    zh = next(puzzle for puzzle in puzzles.values() if puzzle.language == "zh")
    assert zh.story == ZH_FORM["story"] and len(zh.key_facts) == 3 and zh.difficulty == "medium"

    again = await admin.slash(table.channel, "puzzle import", file=("again.yaml", text.encode("utf-8")))
    assert "Imported 2 puzzle(s) from again.yaml (2 replaced" in again.response.content
    before = await stored(client, table)

    # Bad packs: every problem is named by file, puzzle and field, and nothing is stored.
    broken = {**EN_ENTRY, "id": "broken", "difficulty": "extreme"}
    del broken["answer"]
    fine = {**EN_ENTRY, "id": "fine-one"}
    result = await admin.slash(table.channel, "puzzle import", file=pack_file(fine, broken))
    content = result.response.content
    assert content.startswith("Nothing was stored. Please fix:")
    assert "• pack.yaml: puzzle 'broken': answer: missing field" in content
    assert "• pack.yaml: puzzle 'broken': difficulty: unknown difficulty 'extreme'" in content
    not_yaml = await admin.slash(table.channel, "puzzle import", file=("notes.yaml", b"puzzles: [unclosed"))
    assert "notes.yaml: line 1: invalid YAML" in not_yaml.response.content
    binary = await admin.slash(table.channel, "puzzle import", file=("pack.yaml", b"\xff\xfe\x00"))
    assert "pack.yaml: not UTF-8 text" in binary.response.content
    too_many = [{**EN_ENTRY, "id": f"more-{index}"} for index in range(2)]
    full = await admin.slash(table.channel, "puzzle import", file=pack_file(*too_many))
    assert full.response.content == ("Nothing was stored: a server keeps at most 3 puzzles, and this would make 4.")
    assert await stored(client, table) == before


async def test_an_alias_bomb_import_is_refused_naming_its_line_and_stores_nothing(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis
) -> None:
    """A pack of a few hundred bytes whose `difficulty` aliases a list of lists: formatted into an error
    message it expands (eight levels took the bot 6 s and 1 GB); five levels keep this test light."""
    levels = ['&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"&l{level} [{', '.join([f'*l{level - 1}'] * 10)}]" for level in range(1, 6)]
    entry = yaml.safe_dump({"puzzles": [{key: value for key, value in EN_ENTRY.items() if key != "difficulty"}]})
    bomb = entry + f"  difficulty: [{', '.join(levels)}]\n"
    assert len(bomb.encode()) < 1_500
    result = await admin.slash(table.channel, "puzzle import", file=("bomb.yaml", bomb.encode()))
    content = result.response.content
    assert result.ephemeral and content.startswith("Nothing was stored. Please fix:\n• bomb.yaml: line ")
    assert "invalid YAML: aliases (*name) here expand the pack past" in content
    assert "lol" not in content and len(content) < 400
    assert await stored(client, table) == {}


async def test_the_form_takes_no_more_than_validation_accepts_and_a_full_story_is_stored(
    table: Table, admin: simcord.MemberActor, client: aioredis.Redis
) -> None:
    """The form allowed 4,000 characters of story that validation refused at 3,500, losing all that was typed."""
    shown = await admin.slash(table.channel, "puzzle add", language="zh")
    assert shown.modal is not None
    limits = {
        component["custom_id"]: component["max_length"]
        for row in shown.modal["components"]
        for component in row["components"]
    }
    assert limits == {"title": 200, "story": 3500, "answer": 3500, "key_facts": 5 * 201, "hints": 4000}
    with pytest.raises(simcord.SetupError, match="exceeds max_length=3500"):
        await admin.submit_modal(shown, {**ZH_FORM, "story": "夜" * 3501})  # Discord's form stops the typing
    full_story = (ZH_FORM["story"] * 100)[:3500]
    added = await admin.submit_modal(shown, {**ZH_FORM, "story": full_story})
    assert added.response.content.startswith("Added **雨夜的灯**")
    [entry] = (await stored(client, table)).values()
    assert json.loads(entry)["story"] == full_story


async def test_remove_takes_an_id_no_longer_than_a_puzzle_id_and_always_answers(
    table: Table, admin: simcord.MemberActor
) -> None:
    """A 3,000-character id was echoed into a reply over 2,000 characters: Discord answered 400, no one saw it."""
    with pytest.raises(simcord.OptionError, match="must be at most 100 characters"):
        await admin.slash(table.channel, "puzzle remove", puzzle_id="x" * 3000)  # Discord's client stops it
    longest = "`" + "y" * 99
    answered = await admin.slash(table.channel, "puzzle remove", puzzle_id=longest)
    assert answered.ephemeral
    assert answered.response.content == f"This server has no puzzle `'{'y' * 99}`; /puzzle list shows the ids."
