"""What the bot says about a server's scores and its own puzzles, in both languages."""

from __future__ import annotations

SERVER_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "board_title_week": "🏆 Leaderboard: this week ({week})",
        "board_title_all": "🏆 Leaderboard: all time",
        "board_line": "**{rank}.** {who}: {points} pts",
        "board_empty": "No games have been counted here yet. Solve a puzzle to get on the board!",
        "your_rank": "Your place: **#{rank}** with {points} pts.",
        "not_ranked": "You are not on this board yet.",
        "server_totals": "This server: {games} games, {solves} solved, {questions} questions, {facts} key facts found, "
        "{hints} hints used.",
        "score_rule": "Points: +3 for a solve, +1 for each key fact found, −1 for each hint asked for.",
        "stats_title": "📊 Stats: {name}",
        "stats_body": "**Score:** {score} (rank {rank})\n**Solves:** {solves}\n**Key facts found:** {facts}\n"
        "**Questions asked:** {questions}\n**Hints used:** {hints}\n**Games played:** {games}\n"
        "**This week:** {week_points} pts (rank {week_rank})",
        "no_rank": "none yet",
        "puzzle_not_allowed": "Only members with the Manage Server permission{role} can manage this server's puzzles.",
        "puzzle_role": " or the **{role}** role",
        "form_title": "Add a puzzle",
        "form_title_field": "Title",
        "form_story": "Story (what the players see)",
        "form_answer": "Answer (the whole truth)",
        "form_key_facts": "Key facts: 2 to 5, one per line",
        "form_hints": "Hints (optional, one per line)",
        "puzzle_added": "Added **{title}** (`{id}`, {language}, {difficulty}); /play can now pick it here. "
        "This server has {total} puzzle(s).",
        "puzzle_invalid": "Nothing was stored. Please fix:\n{problems}",
        "puzzle_more_problems": "…and {more} more problem(s).",
        "puzzle_limit": "Nothing was stored: a server keeps at most {limit} puzzles, and this would make {would}.",
        "puzzle_list_title": "This server's puzzles ({count})",
        "puzzle_list_empty": "This server has no puzzles of its own yet. Add one with /puzzle add or /puzzle import.",
        "puzzle_list_more": "…and {more} more (/puzzle export has them all).",
        "puzzle_removed": "Removed `{id}`.",
        "puzzle_not_found": "This server has no puzzle `{id}`; /puzzle list shows the ids.",
        "puzzle_exported": "This server's {count} puzzle(s), in the puzzle pack format:",
        "puzzle_exported_parts": "This server's {count} puzzle(s), in {files} puzzle pack files (each at most "
        "{limit}, what /puzzle import reads; import them one by one):",
        "puzzle_imported": "Imported {stored} puzzle(s) from {file} ({replaced} replaced one with the same id). "
        "This server now has {total}.",
        "redis_down": "The game store is unreachable right now; nothing was changed. Please try again shortly.",
    },
    "zh": {
        "board_title_week": "🏆 排行榜：本周（{week}）",
        "board_title_all": "🏆 排行榜：总榜",
        "board_line": "**{rank}.** {who}：{points} 分",
        "board_empty": "这里还没有计分的对局。破解一道谜题就能上榜！",
        "your_rank": "你的名次：**第 {rank} 名**，{points} 分。",
        "not_ranked": "你还没有上这个榜。",
        "server_totals": "本服务器：{games} 局，破解 {solves} 局，提问 {questions} 次，找到关键事实 {facts} 条，"
        "使用提示 {hints} 次。",
        "score_rule": "计分：破解 +3，每找到一条关键事实 +1，每要一次提示 −1。",
        "stats_title": "📊 数据：{name}",
        "stats_body": "**得分：** {score}（第 {rank} 名）\n**破解：** {solves}\n**找到的关键事实：** {facts}\n"
        "**提问：** {questions}\n**使用提示：** {hints}\n**参与对局：** {games}\n"
        "**本周：** {week_points} 分（第 {week_rank} 名）",
        "no_rank": "暂无",
        "puzzle_not_allowed": "只有拥有“管理服务器”权限{role}的成员可以管理本服务器的谜题。",
        "puzzle_role": "或 **{role}** 身份组",
        "form_title": "添加谜题",
        "form_title_field": "标题",
        "form_story": "汤面（玩家看到的故事）",
        "form_answer": "汤底（完整真相）",
        "form_key_facts": "关键事实：2 到 5 条，每行一条",
        "form_hints": "提示（可选，每行一条）",
        "puzzle_added": "已添加 **{title}**（`{id}`，{language}，{difficulty}）；/play 现在可以在这里抽到它。"
        "本服务器共有 {total} 道谜题。",
        "puzzle_invalid": "没有保存任何内容。请修改：\n{problems}",
        "puzzle_more_problems": "……还有 {more} 个问题。",
        "puzzle_limit": "没有保存任何内容：一个服务器最多保存 {limit} 道谜题，这样会变成 {would} 道。",
        "puzzle_list_title": "本服务器的谜题（{count}）",
        "puzzle_list_empty": "本服务器还没有自己的谜题。用 /puzzle add 或 /puzzle import 添加。",
        "puzzle_list_more": "……还有 {more} 道（/puzzle export 导出全部）。",
        "puzzle_removed": "已删除 `{id}`。",
        "puzzle_not_found": "本服务器没有谜题 `{id}`；/puzzle list 可以查看编号。",
        "puzzle_exported": "本服务器的 {count} 道谜题（谜题包格式）：",
        "puzzle_exported_parts": "本服务器的 {count} 道谜题，分为 {files} 个谜题包文件（每个不超过 {limit}，"
        "即 /puzzle import 可读取的大小；请逐个导入）：",
        "puzzle_imported": "已从 {file} 导入 {stored} 道谜题（其中 {replaced} 道替换了同编号的谜题）。"
        "本服务器现在共有 {total} 道。",
        "redis_down": "游戏存储暂时无法连接，没有做任何改动。请稍后再试。",
    },
}


def say(language: str, key: str, /, **values: object) -> str:
    return SERVER_TEXTS.get(language, SERVER_TEXTS["en"])[key].format(**values)
