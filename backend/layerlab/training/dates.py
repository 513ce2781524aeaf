"""Human-written dates and their ISO form: the date-format translation task (encoder-decoder, 9.5).

Pure Python so the catalogue can state the source length without generating data. Every format is
injective and the formats differ in shape, so (day, format) pairs give distinct source strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FIRST_DAY = dt.date(1950, 1, 1)
LAST_DAY = dt.date(2049, 12, 31)
N_DAYS = (LAST_DAY - FIRST_DAY).days + 1
TARGET_LEN = len("1998-03-03")


def _long(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def _short(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}"


def _day_first(d: dt.date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _us_two_digit(d: dt.date) -> str:
    # Two-digit years are unambiguous here: 50..99 -> 19xx, 00..49 -> 20xx.
    return f"{d.month}/{d.day}/{d.year % 100:02d}"


def _us_padded(d: dt.date) -> str:
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def _weekday(d: dt.date) -> str:
    return f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}"


def _dotted(d: dt.date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


FORMATS: tuple[Callable[[dt.date], str], ...] = (_long, _short, _day_first, _us_two_digit, _us_padded, _weekday,
                                                 _dotted)


def day(index: int) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=int(index))


def render(day_index: int, format_index: int) -> tuple[str, str]:
    """(human source, ISO target) for one day and one format."""
    d = day(day_index)
    return FORMATS[format_index](d), d.isoformat()


@cache
def max_source_len() -> int:
    """Longest source string; one leap year covers every month, weekday and two-digit day."""
    year = [dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    return max(len(f(d)) for d in year for f in FORMATS)
