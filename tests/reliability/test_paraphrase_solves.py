"""Solving by paraphrase: right guesses in the players' own words, against a host that calls them Correct.

Each guess below restates a built-in puzzle's answer in words of our own (not the answer's sentences). The
scripted host replies "Correct" with a facts line naming every key fact, as a host judging the guess right
would. Through SimCord and a real redis-server, every one must be recognised as a solve: the game ends
solved, the guesser is credited with every key fact, and the explanation is shown. The older rule (the
guess must repeat a term of the answer) is measured beside it for the report.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

import redis.asyncio as aioredis

from bot.game.leak import LeakGuard
from bot.game.puzzles import PuzzleBank, builtin_puzzles
from bot.game.solving import judge_solve
from bot.game.verdict import Verdict
from tests.bot_fixtures import Table
from tests.fakes.declared_http import declare_model_waits, settle_until
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply

PARAPHRASES: dict[str, str] = {
    "en-ballroom-sea": "It was the dance hall of a big passenger vessel that went down after striking an iceberg, "
    "so the divers are swimming through a shipwreck.",
    "en-hiccup-bar": "He had the hiccups and asked for water to stop them; the barman frightened them out of him "
    "with the pistol instead.",
    "en-short-elevator": "He is too small to get at the high buttons, so he pokes 10 with his umbrella when it rains "
    "or gets another rider to push it.",
    "en-melted-snowman": "Somebody built a snowman there and it thawed away once it got warmer.",
    "en-albatross-soup": "He and his wife were stranded on an island after a shipwreck; she died, the others fed him "
    "her flesh pretending it was albatross, and the real thing tasted different, so he understood.",
    "en-balloon-straw": "A hot-air balloon was going down, they drew matches to pick who had to jump, and he got "
    "the broken one.",
    "en-lighthouse-lamp": "He kept a lighthouse and switched it off, so a ship smashed on the rocks and everyone "
    "aboard drowned.",
    "en-unopened-pack": "He was a skydiver who leapt from a plane and his parachute never opened.",
    "en-surgeon-son": "The surgeon is a woman: the boy's mum.",
    "en-monopoly-hotel": "It's a game of Monopoly: his piece is the car, he landed on somebody's hotel and couldn't "
    "pay.",
    "en-window-washer": "He was a window cleaner on the ground floor and toppled out of the window, a tiny drop.",
    "en-icicle-dagger": "The victim was stabbed with an icicle, which then melted into that puddle near the fire.",
    "en-goldfish-romeo": "They were goldfish: the wind blew their bowl off the shelf, it smashed and they could "
    "not breathe.",
    "en-two-rings": "Ringing twice is a free code meaning she got home safe, since a call nobody picks up costs "
    "nothing.",
    "en-pressed-flower": "His wife was expecting when he went to war, and the flower was their agreed sign that the "
    "baby arrived and both were fine.",
    "en-second-coffee": "She prepays a second cup for someone who can't afford it, the slip is a voucher, and the "
    "homeless man drinks it for free.",
    "en-pilot-meals": "It's a safety rule: if one dish gives food poisoning, the other pilot can still fly.",
    "en-snoring-neighbor": "The man next door snored; the phone call woke him, so the snoring stopped and he could "
    "sleep.",
    "en-phantom-village": "The fake village is a trap for map copiers; finding it on the rival's map proved he "
    "copied it.",
    "en-anniversary-cake": "She got a heart transplant that day from the family's son who died, and the cake thanks "
    "them on her second birthday.",
    "en-photographer-wife": "She is a photographer: she took a photo of him, developed it in liquid and hung it up "
    "to dry.",
    "en-checkers": "They weren't playing each other; each had other opponents.",
    "en-gas-burglar": "He was a burglar who smelled a gas leak, aired the house and called for help to save the "
    "family.",
    "en-cello-seat": "He's a cellist and the extra seat is for his cello.",
    "en-two-barbers": "Each barber cuts the other's hair, so the scruffy one gave the tidy one his good haircut.",
    "en-coin-on-ice": "The coin tells her whether the power went off while she was away: had the ice melted, the "
    "coin would have sunk and frozen at the bottom, and her food could have gone bad.",
    "zh-sea-turtle-soup": "他和妻子遇到海难困在荒岛，妻子死了，同伴把她的肉当海龟汤给他吃，现在尝到真的才知道真相。",
    "zh-tunnel-eyes": "他本来是盲人，刚做手术复明，火车进了隧道一片黑，他以为又瞎了，绝望跳车。",
    "zh-last-human-phone": "瘟疫之后她以为世上只剩自己，跳楼时听到电话响，说明还有别人活着。",
    "zh-snowmount-ticket": "他是卖机票的，丈夫给自己订了往返票，给妻子只订了单程，说明是谋杀。",
    "zh-radio-dj": "他是电台夜间主持人，放长唱片当不在场证明回家杀了妻子，结果唱片跳针露馅了。",
    "zh-funeral-sister": "她杀姐姐是想家里再办一次葬礼，好再见到那个男人。",
    "zh-ice-hanging": "他站在冰块上吊，冰化成了那滩水。",
    "zh-ventilator": "周五早上清洁工拔了呼吸机插头去插吸尘器，噪音盖住了警报。",
    "zh-dark-dorm": "室友那晚已经被杀，凶手躲在黑屋里，字是凶手写的：幸好你没开灯。",
    "zh-family-photo": "照片背景的衣柜门缝里露出一只眼睛，说明一直有个外人偷偷藏在他们家柜子里。",
    "zh-bus-mother": "楼里住着司机瘫痪的妈妈，开门声让她知道儿子平安上班了。",
    "zh-bridge-guard": "他趁哨兵进岗亭上桥，快到五分钟时转身假装往回走，哨兵以为他从对岸来，就把他赶过去了。",
    "zh-marbles-upstairs": "是楼板里水管的声音，夜里水压变化和热胀冷缩造成的撞击。",
    "zh-painting-eyes": "画的眼睛是挖空的，老板在墙后从洞里偷看客人。",
    "zh-auto-watch": "那是自动机械表，孙子每天偷偷戴着玩，所以它又走了。",
    "zh-twins-dna": "他有同卵双胞胎，长相和DNA都分不出是谁干的。",
    "zh-salty-dishes": "饭馆靠卖酒水赚钱，菜咸了客人口渴就多点饮料。",
    "zh-apple-fu": "他贴的是福字贴纸，贴住的地方晒不到太阳不变红。",
    "zh-silent-dog": "邻居老人每晚十点遛狗，那晚狗没叫说明老人没出门，他在家病倒了。",
    "zh-hotel-knock": "住客回自己房间直接刷卡不会敲门，他敲门是在试探屋里有没有人。",
    "zh-missing-poster": "走失的女孩就是她自己，她是被拐的，要去找亲生父母。",
    "zh-mirror-fog": "有人趁她不在进过她家，用手指在镜子上写字，起雾才显出来。",
    "zh-parachute": "他从飞机上跳伞，降落伞没打开。",
    "zh-elevator-mirror": "那人坐轮椅，在电梯里不能掉头只能倒出来，镜子让他看身后的门。",
}
PUZZLES = {puzzle.id: puzzle for puzzle in builtin_puzzles()}
# Guesses the code does not believe, though the host does. Judged by meaning (bot.game.solving), none: "the
# boy's mum", once missed for want of the fact's own word "mother", is close to it in meaning.
KNOWN_MISSES: dict[str, str] = {}
EXPLANATION = {"en": "Correct! That is exactly what happened.", "zh": "正确！就是这样。"}
FACTS_HEADINGS = {"en": "\n\nKey facts:\n", "zh": "\n\n关键要点：\n"}


def _fact_count(system_prompt: str) -> int:
    """How many key facts the host was given (its prompt numbers them under a heading)."""
    for heading in FACTS_HEADINGS.values():
        if heading in system_prompt:
            return len(re.findall(r"^\d+\. ", system_prompt.split(heading, 1)[1], flags=re.MULTILINE))
    return 0


def judging_host(body: dict[str, Any]) -> Reply:
    """A host that judges the guess right: Correct, and a facts line naming every key fact."""
    system = body["messages"][0]["content"]
    numbers = list(range(1, _fact_count(system) + 1))
    if "汤底：" in system:
        return Reply.text(f"{EXPLANATION['zh']}\n[要点：{'、'.join(map(str, numbers))}]", size=3)
    return Reply.text(f"{EXPLANATION['en']}\n[facts: {', '.join(map(str, numbers))}]", size=5)


def _answered(table: Table, question_id: int) -> bool:
    """Whether the bot's reply to the question is finished."""
    return any(
        message.reference is not None and message.reference.message_id == question_id and "⏳" not in message.content
        for message in table.channel.history()
    )


def _announced(table: Table) -> bool:
    """Whether the channel's last message is a solve announcement."""
    last = table.channel.last_message
    return last is not None and bool(last.embeds) and last.embeds[0].title.startswith("🎉")


def test_the_set() -> None:
    languages = [PUZZLES[puzzle_id].language for puzzle_id in PARAPHRASES]
    assert len(PARAPHRASES) >= 40 and languages.count("en") >= 20 and languages.count("zh") >= 20
    for puzzle_id, guess in PARAPHRASES.items():
        puzzle = PUZZLES[puzzle_id]
        assert puzzle.key_facts, puzzle_id
        assert guess not in puzzle.answer  # not a copy of the answer
        assert not any(guess in fact or fact in guess for fact in puzzle.key_facts), puzzle_id


async def test_paraphrased_right_guesses_are_solved(table: Table, fake_upstream: FakeUpstream, redis_url: str) -> None:
    await declare_model_waits(table.env, timeout=60)
    fake_upstream.responder = judging_host
    games = table.env.bot.games
    client = aioredis.from_url(redis_url, decode_responses=True)
    solved, by_older_rule, missed = 0, 0, []
    try:
        for number, (puzzle_id, guess) in enumerate(PARAPHRASES.items()):
            puzzle = PUZZLES[puzzle_id]
            games.bank = PuzzleBank([puzzle])
            command = "play" if number == 0 else "newgame"
            started = await table.alice.slash(table.channel, command, language=puzzle.language)
            assert not started.ephemeral, puzzle_id
            asked = await table.bob.send(table.channel, guess)
            await settle_until(table.env, partial(_answered, table, asked.id), within=10)

            game = await only_game(redis_url)
            assert game["puzzle_id"] == puzzle_id
            guard = LeakGuard(puzzle.story, puzzle.answer, puzzle.language)
            by_older_rule += judge_solve(guard, guess, Verdict.CORRECT)
            found = await client.hgetall(f"soup:{{ch{table.channel.id}}}:found")
            if game["status"] != "solved":
                missed.append(puzzle_id)
                assert game["status"] == "active" and not found, puzzle_id  # not believed: nothing changed
                continue
            assert game["solver"] == str(table.bob.id)
            solved += 1
            assert sorted(map(int, found)) == list(range(len(puzzle.key_facts))), puzzle_id
            assert all(json.loads(record)["by"] == table.bob.id for record in found.values()), puzzle_id
            # The announcement follows the stored solve; the bot may still be posting it.
            await settle_until(table.env, lambda: _announced(table), within=10)
    finally:
        await client.aclose()
    languages = [PUZZLES[puzzle_id].language for puzzle_id in PARAPHRASES]
    print(
        f"\nparaphrase solves: {solved}/{len(PARAPHRASES)} recognised "
        f"({languages.count('en')} en, {languages.count('zh')} zh); "
        f"the older answer-terms rule alone would have recognised {by_older_rule}/{len(PARAPHRASES)}; "
        f"missed: {', '.join(missed) or 'none'}"
    )
    assert missed == list(KNOWN_MISSES)
