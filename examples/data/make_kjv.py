"""Rebuild ``kjv_genesis_ruth.txt`` from Debian's ``bible-kjv`` package (run once; not needed at run time).

    apt-get install bible-kjv             # the `bible` reader and the bible-kjv-text data (4.38)
    python examples/data/make_kjv.py      # writes examples/data/kjv_genesis_ruth.txt

``bible -f`` prints one verse per line as ``Ge1:1 In the beginning ...``. This
drops the verse references, joins each chapter's verses into one paragraph
wrapped at 76 columns, and puts each book's name on a line before its first
chapter, so the file reads as plain prose.
"""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

BOOKS = {"Ge": "Genesis", "Exo": "Exodus", "Lev": "Leviticus", "Num": "Numbers", "Deu": "Deuteronomy",
         "Josh": "Joshua", "Jdgs": "Judges", "Ruth": "Ruth"}
REFERENCE = re.compile(r"^(?P<book>[0-9]?[A-Za-z]+)(?P<chapter>\d+):\d+ (?P<text>.*)$")


def main() -> None:
    lines = subprocess.run(["bible", "-f", "gen1:1-rut4:22"], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    paragraphs: list[str] = []
    verses: list[str] = []
    where = None
    for line in lines:
        match = REFERENCE.match(line)
        if match is None:
            raise SystemExit(f"unexpected line from `bible -f`: {line!r}")
        book, chapter = match["book"], match["chapter"]
        if (book, chapter) != where:
            if verses:
                paragraphs.append(textwrap.fill(" ".join(verses), 76))
            verses = []
            if where is None or book != where[0]:
                paragraphs.append(BOOKS[book])
            where = (book, chapter)
        verses.append(match["text"].strip())
    paragraphs.append(textwrap.fill(" ".join(verses), 76))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kjv_genesis_ruth.txt")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n\n".join(paragraphs) + "\n")
    print(f"{path}: {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    main()
