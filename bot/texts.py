"""Everything the bot says to players, in both languages, and how a host reply is shown."""

from __future__ import annotations

from bot.appeal_texts import APPEAL_TEXTS
from bot.game.facts import progress_bar
from bot.game.session import HostReply, Outcome
from bot.game.verdict import Verdict

IN_PROGRESS = "⏳"
# A thinking model's reply shows its thinking time in steps of this many seconds: one edit per step at
# most, well inside Discord's edit budget (5 edits per 5 s per channel), however fast thought tokens come.
THINKING_STEP = 5

VERDICT_ICONS = {
    Verdict.YES: "✅",
    Verdict.NO: "❌",
    Verdict.IRRELEVANT: "➖",
    Verdict.CORRECT: "🎉",
    Verdict.UNCLEAR: "❔",
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "thinking": "⏳ *The host is thinking…*",
        "thinking_model": "💭 *The host is thinking…*",
        "thinking_for": "💭 *The host is thinking… ({seconds} s)*",
        "no_verdict": "⚠️ *The host thought it over but gave no answer in time. Not counted; please ask again.*",
        "queued": "⏳ *Queued: the host answers questions in order…*",
        "unclear": "*(The host's answer was unclear, so nothing was recorded. Try rephrasing.)*",
        "unavailable": "⚠️ The host can't answer right now. Your question was not counted; please ask again "
        "in a moment.",
        "interrupted": "⚠️ *Interrupted: the host stopped mid-reply. Not counted; please ask again.*",
        "game_over": "This game ended before your question was answered.",
        "game_changed": "A new puzzle started while your question waited, so it was not asked or counted. "
        "If it is about the new puzzle, ask it again.",
        "host_busy": "⏳ The host is busy; ask again in a few seconds. Your question was not counted.",
        "not_saved": "⚠️ The game store is unreachable, so this was not recorded. Please ask again shortly.",
        "story_footer": "Ask yes/no questions here. /newgame reveals the answer and starts another; /stop ends.",
        "solved_title": "🎉 Solved: {title}",
        "solved": "**{solver}** cracked it after {questions} question(s)!\n\n**Answer:** {answer}",
        "reveal_title": "🐢 The answer to “{title}”",
        "stopped": "The game was stopped by {who}. Use /play to start another.",
        "replaced": "A new puzzle follows.",
        "already_running_short": "A game is already running in this channel: **{title}**. Ask away, or use "
        "/newgame to reveal it and start another.",
        "no_puzzles": "No puzzles in that language are loaded here.",
        "no_game": "No game is running in this channel. Use /play to start one.",
        "too_long": "That question is too long (at most {limit} characters). Please shorten it.",
        "empty": "Please write a question.",
        "busy": "Too many questions are waiting in this channel; please wait a moment and ask again.",
        "lost_race": "Someone else just started a new puzzle here:",
        "command_game_changed": "The game changed before your command arrived, so nothing was stopped. Now playing: "
        "**{title}**.",
        "redis_down": "The game store is unreachable right now; nothing was changed. Please try again shortly.",
        "error": "Something went wrong; nothing was changed. Please try again.",
        "asked": "**{who} asked:** {question}",
        "cooldown": "Slow down a little: you can ask again in {seconds} second(s).",
        "not_allowed": "Only the player who started this game, or someone with Manage Messages, can end it.",
        "missing_permission": "I need the **{permission}** permission in this channel to host a game here.",
        "restarted": "⚠️ *Interrupted: the bot restarted mid-reply. Not counted; please ask again.*",
        "facts_found": "{count} new key fact(s) found!",
        "partial": "*Right so far, but part of the answer is still missing. Keep going!*",
        "progress_title": "**Key facts of “{title}”:** {bar}",
        "progress_found": "🟩 {number}. {fact} (found by **{who}**)",
        "progress_found_by_question": "🟩 {number}. found by **{who}**: “{question}”",
        "progress_unfound": "⬜ {number}. ???",
        "progress_none": "**{title}** has no key facts to track: solve it by guessing the answer.",
        "progress_ended": "*This game has ended.*",
        "hint": "💡 **Hint {number}/{allowed}** (asked for by {who}): {hint}",
        "hints_used_up": "No hints left: this game allows {allowed}.",
        "no_hint": "No hint is available right now: nothing more can be said without giving the answer away. "
        "It was not counted.",
        "no_hint_host": "⚠️ The host can't write a hint right now. It was not counted; please ask again in a moment.",
        "no_puzzles_difficulty": "No {difficulty} puzzles in that language are loaded here.",
        "limit_questions": "🛑 That was the last of the {limit} questions this game allows. Here is the answer.",
        "limit_time": "⏰ Time is up: this game's {minutes} minute(s) have run out. Here is the answer.",
        "limit_reached": "This game has reached its limit. Here is the answer.",
        "summary_title": "📊 Game summary",
        "summary_solved_by": "🎉 Solved by {solver}",
        "summary_reason_stopped": "🛑 Ended before it was solved",
        "summary_reason_question_limit": "🛑 Ended: question limit reached",
        "summary_reason_time_limit": "⏰ Ended: time ran out",
        "summary_questions": "❓ Questions asked: {questions}",
        "summary_time": "⏱️ Time taken: {duration}",
        "summary_hints": "💡 Hints used: {hints}",
        "summary_facts": "**Key facts found: {found}/{total}**",
        "summary_found_by": "found by {player}",
        "duration_hours": "{hours} h {minutes} min {seconds} s",
        "duration_minutes": "{minutes} min {seconds} s",
        "difficulty_easy": "easy",
        "difficulty_medium": "medium",
        "difficulty_hard": "hard",
    },
    "zh": {
        "thinking": "⏳ *主持人思考中……*",
        "thinking_model": "💭 *主持人思考中……*",
        "thinking_for": "💭 *主持人思考中……（{seconds} 秒）*",
        "no_verdict": "⚠️ *主持人想了很久，没能及时给出回答。本题不计，请再问一次。*",
        "queued": "⏳ *排队中：主持人按顺序回答……*",
        "unclear": "*（主持人的回答不明确，本题不计。请换个问法。）*",
        "unavailable": "⚠️ 主持人暂时无法回答。本题不计，请稍后再问。",
        "interrupted": "⚠️ *回答中断：主持人没有说完。本题不计，请再问一次。*",
        "game_over": "在回答你的问题之前，本局已经结束。",
        "game_changed": "你的问题排队时已经换了新的谜题，所以没有提问，也不计数。如果是问新谜题的，请再问一次。",
        "host_busy": "⏳ 主持人正忙，请过几秒再问。本题不计。",
        "not_saved": "⚠️ 游戏存储暂时无法连接，本题没有记录。请稍后再问。",
        "story_footer": "在这里提出可以用是/否回答的问题。/newgame 揭晓汤底并开始新的一局；/stop 结束。",
        "solved_title": "🎉 破解：{title}",
        "solved": "**{solver}** 在第 {questions} 个问题时猜中了！\n\n**汤底：** {answer}",
        "reveal_title": "🐢 “{title}”的汤底",
        "stopped": "{who} 结束了本局。使用 /play 开始新的一局。",
        "replaced": "新的谜题如下。",
        "already_running_short": "本频道已经有一局正在进行：**{title}**。继续提问吧，或用 /newgame 揭晓汤底并换一题。",
        "no_puzzles": "这里没有加载该语言的谜题。",
        "no_game": "本频道没有进行中的游戏。使用 /play 开始。",
        "too_long": "问题太长了（最多 {limit} 个字符），请精简一下。",
        "empty": "请写下你的问题。",
        "busy": "本频道排队的问题太多了，请稍等再问。",
        "lost_race": "刚刚有人在这里开始了新的谜题：",
        "command_game_changed": "在你的指令生效之前本局已经换成了新的谜题，所以没有结束任何游戏。"
        "当前谜题：**{title}**。",
        "redis_down": "游戏存储暂时无法连接，没有做任何改动。请稍后再试。",
        "error": "出了点问题，没有做任何改动。请再试一次。",
        "asked": "**{who} 问：** {question}",
        "cooldown": "慢一点：{seconds} 秒后可以再问。",
        "not_allowed": "只有开局的玩家或拥有“管理消息”权限的成员可以结束本局。",
        "missing_permission": "我需要本频道的 **{permission}** 权限才能在这里主持游戏。",
        "restarted": "⚠️ *回答中断：机器人重启了。本题不计，请再问一次。*",
        "facts_found": "新找到 {count} 个关键要点！",
        "partial": "*说对了一部分，但汤底还有关键没找到，继续加油！*",
        "progress_title": "**“{title}”的关键要点：** {bar}",
        "progress_found": "🟩 {number}. {fact}（由 **{who}** 找到）",
        "progress_found_by_question": "🟩 {number}. 由 **{who}** 找到：“{question}”",
        "progress_unfound": "⬜ {number}. ？？？",
        "progress_none": "**{title}** 没有可追踪的关键要点：猜出汤底即可破解。",
        "progress_ended": "*本局已经结束。*",
        "hint": "💡 **提示 {number}/{allowed}**（{who} 请求）：{hint}",
        "hints_used_up": "提示已经用完了：本局最多 {allowed} 个提示。",
        "no_hint": "暂时没有可以给的提示：再多说就会泄露汤底了。本次不计。",
        "no_hint_host": "⚠️ 主持人暂时写不出提示。本次不计，请稍后再试。",
        "no_puzzles_difficulty": "这里没有加载该语言的{difficulty}难度谜题。",
        "limit_questions": "🛑 本局最多可以问 {limit} 个问题，刚才是最后一个。汤底揭晓如下。",
        "limit_time": "⏰ 时间到：本局的 {minutes} 分钟已经用完。汤底揭晓如下。",
        "limit_reached": "本局已达到限制。汤底揭晓如下。",
        "summary_title": "📊 本局总结",
        "summary_solved_by": "🎉 破解者：{solver}",
        "summary_reason_stopped": "🛑 未破解即结束",
        "summary_reason_question_limit": "🛑 结束：提问次数已用完",
        "summary_reason_time_limit": "⏰ 结束：时间到",
        "summary_questions": "❓ 提问数：{questions}",
        "summary_time": "⏱️ 用时：{duration}",
        "summary_hints": "💡 使用提示：{hints}",
        "summary_facts": "**找到的关键事实：{found}/{total}**",
        "summary_found_by": "由 {player} 找到",
        "duration_hours": "{hours} 小时 {minutes} 分 {seconds} 秒",
        "duration_minutes": "{minutes} 分 {seconds} 秒",
        "difficulty_easy": "简单",
        "difficulty_medium": "中等",
        "difficulty_hard": "困难",
    },
}

for _language, _texts in APPEAL_TEXTS.items():  # appeals keep their texts in a module of their own
    TEXTS[_language].update(_texts)


def text(language: str, key: str, **values: object) -> str:
    return TEXTS.get(language, TEXTS["en"])[key].format(**values)


# Outcomes shown as a notice under whatever text had arrived.
NOTICES = {
    Outcome.GAME_OVER: "game_over",
    Outcome.GAME_CHANGED: "game_changed",
    Outcome.NOT_SAVED: "not_saved",
    Outcome.INTERRUPTED: "interrupted",
}


def format_reply(reply: HostReply, language: str) -> str:
    """How a host reply looks at each stage of its stream."""
    if reply.outcome is Outcome.QUEUED:
        return text(language, "queued")
    if reply.outcome is Outcome.STREAMING:
        if not reply.text.strip():
            if reply.thinking is None:
                return text(language, "thinking")
            seconds = int(reply.thinking // THINKING_STEP) * THINKING_STEP
            return text(language, "thinking_for", seconds=seconds) if seconds else text(language, "thinking_model")
        # The verdict's icon goes on as soon as the verdict is known, so the final edit only
        # drops the marker instead of shifting every page by the icon's width.
        icon = "" if reply.verdict is Verdict.UNCLEAR else f"{VERDICT_ICONS[reply.verdict]} "
        return f"{icon}{reply.text} {IN_PROGRESS}"
    if reply.outcome is Outcome.UNAVAILABLE:
        return text(language, "unavailable")
    if reply.outcome is Outcome.BUSY:
        return text(language, "host_busy")
    if reply.outcome is Outcome.NO_VERDICT:
        return text(language, "no_verdict")
    if reply.outcome in NOTICES:
        # Whatever text arrived stays visible, with the notice under it.
        notice = text(language, NOTICES[reply.outcome])
        if reply.outcome is Outcome.GAME_OVER:
            notice = f"*{notice}*"
        return f"{reply.text}\n\n{notice}" if reply.text else text(language, NOTICES[reply.outcome])
    body = f"{VERDICT_ICONS[reply.verdict]} {reply.text}".strip()
    if reply.outcome is Outcome.UNCLEAR:
        return f"{body}\n\n{text(language, 'unclear')}"
    return body + _progress_note(reply, language)


def _progress_note(reply: HostReply, language: str) -> str:
    """The key-fact progress under a reply that found facts (or was partly right): "🟩🟩⬜ 2/3 · 1 new …"."""
    game = reply.game
    if game is None or not game.key_facts or not (reply.new_facts or reply.partial):
        return ""
    note = progress_bar(*game.progress)
    if reply.new_facts:
        note += " · " + text(language, "facts_found", count=len(reply.new_facts))
    if reply.partial:
        note = f"{text(language, 'partial')}\n{note}"
    return f"\n{note}"


def no_hint_key(reason: str) -> str:
    """The text for a NoHint refusal, by its reason."""
    return {"used_up": "hints_used_up", "unreachable": "no_hint_host"}.get(reason, "no_hint")
