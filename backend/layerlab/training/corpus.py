"""The English text of the character-level set: the stdlib's pydoc topics (~465k characters).

It ships with every CPython, so it is there offline; topics are joined in sorted key order so the
text is the same on every run of one Python version.
"""

from __future__ import annotations

from functools import cache


@cache
def text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))
