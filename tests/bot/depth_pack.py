"""A small puzzle pack with known hints, key facts and difficulties, for the hint, limit and summary tests."""

from __future__ import annotations

from pathlib import Path

PACK = """
puzzles:
  - id: t-lighthouse
    language: en
    title: The Dark Lighthouse
    story: >-
      A lighthouse keeper switched off the lamp one night and went to bed. The next morning he heard on the
      radio that a ship had gone down nearby, and he wept.
    answer: >-
      The keeper had forgotten that a supply vessel was due that night. Without the beam its captain steered
      onto the rocks, so the keeper knew the wreck was his own fault.
    hints:
      - "The keeper was expecting someone."
      - "Think about what the lamp is for."
    key_facts:
      - "A supply vessel was due that night."
      - "Without the beam the captain hit the rocks."
      - "The keeper caused the wreck."
    difficulty: easy
  - id: t-violin
    language: en
    title: The Silent Violin
    story: >-
      A famous violinist finished a concert to thunderous applause, walked off the stage and broke his own
      violin over his knee.
    answer: >-
      He had swapped his priceless instrument for a cheap copy as a test, to prove that audiences cannot hear
      the difference. The applause showed him his life's pride in the old violin was vanity.
    hints:
      - "The instrument was not the one he usually played."
    key_facts:
      - "He played a cheap copy that night."
      - "The applause proved nobody could hear the difference."
    difficulty: medium
  - id: t-orchard
    language: en
    title: The Empty Orchard
    story: >-
      Every apple tree in the orchard was heavy with fruit, yet the farmer ordered them all cut down the day
      before the harvest.
    answer: >-
      A blight had reached the roots and would have spread to the neighbouring farms. Felling the trees before
      the harvest was the only way to stop the spores travelling on the picked fruit.
    hints:
      - "The trees looked healthy but were not."
    key_facts:
      - "A blight had reached the roots."
      - "Picking the fruit would have spread the spores."
    difficulty: hard
  - id: t-zh-bridge
    language: zh
    title: 断桥
    story: >-
      一个男人每天都从桥上走过去上班。有一天他走到桥中间，突然转身跑了回去，从此再也不走这座桥。
    answer: >-
      那天他在桥中间看到桥下的河水里漂着自己的照片，原来是前妻在上游扔掉了他们的合影。他不想再想起那段婚姻。
    hints:
      - "他在桥上看到了某样东西。"
    key_facts:
      - "河里漂着他的照片。"
      - "照片是前妻扔掉的。"
    difficulty: easy
"""


def write_pack(folder: Path) -> str:
    path = folder / "depth-pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    return str(path)
