"""Staff search for a manual check-in: who is this person at the door? Sans I/O.

Matches a participant's name, organization, province and id -- and a Chinese name by
its pinyin too, so staff typing on a phone without a Chinese keyboard find 张伟 with
"zhang wei", "zhangwei" or "zw". Never the e-mail address or the badge code: search is
for finding a person in front of you, not for looking up a secret (a badge code
checks someone in) or confirming who is on the roster by their address.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from pypinyin import Style, pinyin

from ..event.model import Participant

RESULT_LIMIT = 20
# A name's pinyin readings kept at most (characters with several readings multiply).
MAX_READINGS = 16
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u9fff]")


def normalize(text: str) -> str:
    """Casefolded, accents dropped (ü -> u, é -> e), runs of spaces made one."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", plain).strip()


def readings(name: str) -> list[str]:
    """The pinyin readings of a name with Chinese characters, syllables spaced ("zhang
    wei"); none for a name without any. Every reading of a character with several
    (曾: ceng / zeng), up to MAX_READINGS combinations."""
    if not _HAN.search(name):
        return []
    syllables = pinyin(name, style=Style.NORMAL, heteronym=True, errors="default")
    out: list[str] = []
    for combo in itertools.islice(itertools.product(*syllables), MAX_READINGS):
        out.append(normalize(" ".join(part.strip() for part in combo if part.strip())))
    return out


@dataclass(frozen=True)
class _Entry:
    person: Participant
    name: str
    fields: tuple[str, ...]  # normalized id, name, organization, province
    spelled: tuple[str, ...]  # pinyin readings: spaced, unspaced, initials


def _entry(p: Participant) -> _Entry:
    spelled: list[str] = []
    for reading in readings(p.name):
        spelled.append(reading)
        spelled.append(reading.replace(" ", ""))
        spelled.append("".join(s[0] for s in reading.split()))
    fields = (normalize(p.id), normalize(p.name), normalize(p.organization), normalize(p.province))
    return _Entry(p, fields[1], fields, tuple(dict.fromkeys(spelled)))


class SearchIndex:
    """The roster prepared for search. Pinyin is the costly part (about 0.1 ms a name):
    an index built from the `previous` one reuses the entries of everyone unchanged, so
    reloading a roster of thousands costs look-ups, not pinyin."""

    def __init__(self, people: Iterable[Participant], previous: SearchIndex | None = None) -> None:
        known = previous._by_person if previous is not None else {}
        self._by_person: dict[Participant, _Entry] = {p: known.get(p) or _entry(p) for p in people}
        self._entries = list(self._by_person.values())

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, query: str, limit: int = RESULT_LIMIT) -> list[Participant]:
        """Best matches first: an exact id, then names starting with the query, then
        anything containing it. A query shorter than two letters (or one Chinese
        character) finds nothing: it would list the roster."""
        q = normalize(query)
        if len(q) < 2 and not _HAN.search(q):
            return []
        squeezed = q.replace(" ", "")
        ranked: list[tuple[int, str, Participant]] = []
        for e in self._entries:
            rank = _rank(e, q, squeezed)
            if rank is not None:
                ranked.append((rank, e.name, e.person))
        ranked.sort(key=lambda r: (r[0], r[1], r[2].id))
        return [p for _, _, p in ranked[:limit]]


def _rank(e: _Entry, q: str, squeezed: str) -> int | None:
    pid, name, organization, province = e.fields
    if q == pid:
        return 0
    if (
        name.startswith(q)
        or name.replace(" ", "").startswith(squeezed)
        or any(s.startswith(q) or s.startswith(squeezed) for s in e.spelled)
    ):
        return 1
    if q in name or q in pid or any(q in s for s in e.spelled):
        return 2
    if q in organization or q in province:
        return 3
    return None


def result_json(p: Participant) -> dict[str, str]:
    """What staff see of a match: enough to recognise the person, nothing secret."""
    return {"id": p.id, "name": p.name, "organization": p.organization, "province": p.province}
