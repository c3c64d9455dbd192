"""Puzzle texts the tests share: a one-puzzle pack for a bot's bank, and two drafts a host model might write when
asked to generate a puzzle (English and Chinese), each a valid draft as `bot.game.puzzle_draft` reads it."""

ONE_PUZZLE_PACK = """
puzzles:
  - id: bank-1
    language: en
    title: The Bank Puzzle
    story: A man walks into a bar and asks for water. The barman points a gun at him. The man thanks him.
    answer: The man had hiccups; the fright cured them, so he no longer needed the water.
"""
LADDER_DRAFT = {
    "title": "The Ladder on the Ice",
    "story": "Every dawn a skater trains alone on a frozen lake with a long wooden ladder strapped to her back.",
    "answer": "If the ice gives way, the ladder spreads her weight across the hole so she can pull herself out. "
    "She has carried it ever since her brother fell through the ice.",
    "key_facts": ["The ladder is for getting out if the ice breaks.", "Her brother once fell through the ice."],
    "hints": ["Think about what could go wrong on a lake.", "Someone close to her had an accident."],
    "difficulty": "easy",
}
PAINTING_DRAFT = {
    "title": "黑暗中的画",
    "story": "一个画家把自己最满意的画挂在家里背光的角落，客人来了从不让开灯。",
    "answer": "那幅画用的是夜光颜料，只有在黑暗中才显出真正的图案，开了灯反而什么都看不见。",
    "key_facts": ["画是用夜光颜料画的", "图案只有在黑暗里才看得见"],
    "hints": ["想想颜料。", "光线会改变什么？"],
    "difficulty": "hard",
}
