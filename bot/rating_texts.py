"""What the bot says about puzzle ratings, in both languages."""

from __future__ import annotations

RATING_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "rate_prompt": "Played “{title}”? Rate it with 👍 or 👎: players of this game only, one vote each "
        "(click again to change it), until {closes}.",
        "rate_up": "Good puzzle",
        "rate_down": "Not for me",
        "rate_counted": "Thanks! Your {vote} for “{title}” is counted. This server: 👍 {up} · 👎 {down}.",
        "rate_changed": "Changed to {vote} for “{title}”. This server: 👍 {up} · 👎 {down}.",
        "rate_same": "You already rated “{title}” {vote}; it counts once. Click the other button to change it.",
        "rate_not_player": "Only players who asked a question in this game can rate “{title}”.",
        "rate_closed": "Rating for this game has closed (or the game is unknown); nothing was counted.",
        "rate_down_redis": "Ratings are unavailable right now (the bot's database is not answering); "
        "nothing was counted, please try again shortly.",
        "rating_line": "👍 {up} 👎 {down} here · 👍 {all_up} 👎 {all_down} overall",
        "top_title": "⭐ Best-rated puzzles in this server",
        "top_title_language": "⭐ Best-rated {language} puzzles in this server",
        "top_line": "**{rank}.** {title} (`{id}`, {language}) · here 👍 {up} 👎 {down} · overall 👍 {all_up} "
        "👎 {all_down}{retired}",
        "top_retired": " · retired",
        "top_rule": "Ranked by this server's votes once a puzzle has {min_votes}, by every server's before. "
        "/play picks well-rated puzzles more often.",
        "top_empty": "No puzzle has been rated yet. After a reveal, the players of that game can rate it.",
        "top_disabled": "Ratings are turned off on this bot.",
    },
    "zh": {
        "rate_prompt": "玩过“{title}”了吗？用 👍 或 👎 评价：仅限本局玩家，每人一票（再点另一个可改票），"
        "截止 {closes}。",
        "rate_up": "好题",
        "rate_down": "不喜欢",
        "rate_counted": "谢谢！你对“{title}”的 {vote} 已计入。本服务器：👍 {up} · 👎 {down}。",
        "rate_changed": "已改为 {vote}（“{title}”）。本服务器：👍 {up} · 👎 {down}。",
        "rate_same": "你已经给“{title}”投了 {vote}，只计一次。点另一个按钮可以改票。",
        "rate_not_player": "只有在这一局提过问的玩家才能评价“{title}”。",
        "rate_closed": "这一局的评价已经截止（或找不到这一局），没有计票。",
        "rate_down_redis": "暂时无法评价（机器人的数据库没有响应），没有计票，请稍后再试。",
        "rating_line": "本服务器 👍 {up} 👎 {down} · 全部 👍 {all_up} 👎 {all_down}",
        "top_title": "⭐ 本服务器评价最高的谜题",
        "top_title_language": "⭐ 本服务器评价最高的{language}谜题",
        "top_line": "**{rank}.** {title}（`{id}`，{language}）· 本服务器 👍 {up} 👎 {down} · 全部 👍 {all_up} "
        "👎 {all_down}{retired}",
        "top_retired": " · 已停用",
        "top_rule": "一道谜题在本服务器有 {min_votes} 票后按本服务器的票排名，之前按所有服务器的票。"
        "/play 会更常抽到评价好的谜题。",
        "top_empty": "还没有谜题被评价过。揭晓汤底后，这一局的玩家可以评价它。",
        "top_disabled": "这个机器人没有开启评价。",
    },
}


def rating_text(language: str, key: str, /, **values: object) -> str:
    return RATING_TEXTS.get(language, RATING_TEXTS["en"])[key].format(**values)
