"""Report rows and organizer statistics, computed from every door scan and watch interval
recorded (pure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..event.model import ORG_TYPES, Event, Participant
from .eligibility import Eligibility, SessionAttendance, eligibility, minutes, session_attendance
from .records import DoorScan, WatchInterval

ATTENDANCE_HEADER = (
    "participant_id",
    "name",
    "organization",
    "org_type",
    "province",
    "mode",
    "session_id",
    "session_title",
    "room_min",
    "online_min",
    "total_min",
    "duration_min",
    "status",
)
CERTIFICATE_HEADER = (
    "participant_id",
    "name",
    "organization",
    "province",
    "required_attended",
    "required_needed",
    "sessions_attended",
    "eligible",
    "certificate_id",
    "verify_url",
)


@dataclass(frozen=True)
class RecordsByPair:
    """Everything the reports need: every door scan and watch interval recorded, grouped
    by (session id, participant id)."""

    scans: Mapping[tuple[str, str], tuple[DoorScan, ...]]
    watches: Mapping[tuple[str, str], tuple[WatchInterval, ...]]

    @classmethod
    def build(cls, scans: Iterable[DoorScan], watches: Iterable[WatchInterval]) -> RecordsByPair:
        by_pair: dict[tuple[str, str], list[DoorScan]] = defaultdict(list)
        for s in scans:
            by_pair[(s.session_id, s.participant_id)].append(s)
        w_by_pair: dict[tuple[str, str], list[WatchInterval]] = defaultdict(list)
        for w in watches:
            w_by_pair[(w.session_id, w.participant_id)].append(w)
        return cls(
            {k: tuple(v) for k, v in by_pair.items()},
            {k: tuple(v) for k, v in w_by_pair.items()},
        )


def attendance_table(
    event: Event,
    participants: Iterable[Participant],
    records: RecordsByPair,
    now: float | None = None,
) -> dict[str, dict[str, SessionAttendance]]:
    """participant id -> session id -> attendance."""
    out: dict[str, dict[str, SessionAttendance]] = {}
    fraction = event.certificate.min_fraction
    for p in participants:
        row: dict[str, SessionAttendance] = {}
        for s in event.sessions:
            key = (s.id, p.id)
            row[s.id] = session_attendance(
                s, p.id, records.scans.get(key, ()), records.watches.get(key, ()), fraction, now
            )
        out[p.id] = row
    return out


def attendance_rows(
    event: Event,
    participants: list[Participant],
    table: Mapping[str, Mapping[str, SessionAttendance]],
) -> list[list[object]]:
    rows: list[list[object]] = []
    for p in participants:
        for s in event.sessions:
            a = table[p.id][s.id]
            rows.append(
                [
                    p.id,
                    p.name,
                    p.organization,
                    p.org_type,
                    p.province,
                    p.mode,
                    s.id,
                    s.title,
                    minutes(a.room_s),
                    minutes(a.online_s),
                    minutes(a.total_s),
                    minutes(a.duration_s),
                    a.status,
                ]
            )
    return rows


def certificate_rows(
    event: Event,
    participants: list[Participant],
    table: Mapping[str, Mapping[str, SessionAttendance]],
    issue: Callable[[str, str], str],
    verify_url: Callable[[str], str],
) -> list[list[object]]:
    rows: list[list[object]] = []
    for p in participants:
        e = eligibility(event, p.id, table[p.id])
        cert = issue(event.id, p.id) if e.eligible else ""
        rows.append(
            [
                p.id,
                p.name,
                p.organization,
                p.province,
                len(e.attended_required),
                e.needed,
                e.attended_total,
                "yes" if e.eligible else "no",
                cert,
                verify_url(cert) if cert else "",
            ]
        )
    return rows


def eligibility_of(
    event: Event, participant_id: str, table: Mapping[str, Mapping[str, SessionAttendance]]
) -> Eligibility:
    return eligibility(event, participant_id, table.get(participant_id, {}))


@dataclass(frozen=True)
class Statistics:
    """What an organizer publishes afterwards: count, provinces, shares by org type."""

    count: int
    provinces: int
    by_org_type: dict[str, int]
    attended: int  # attended at least one session
    certified: int

    def share(self, *org_types: str) -> int:
        """Whole-percent share of the given org types (rounded half up)."""
        if not self.count:
            return 0
        n = sum(self.by_org_type.get(t, 0) for t in org_types)
        return int(n * 100 / self.count + 0.5)

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "provinces": self.provinces,
            "by_org_type": dict(self.by_org_type),
            "shares_pct": {t: self.share(t) for t in ORG_TYPES},
            "government_pct": self.share("government"),
            "universities_and_research_pct": self.share("university", "research_institute"),
            "attended": self.attended,
            "certified": self.certified,
        }

    def rows(self) -> list[list[object]]:
        out: list[list[object]] = [
            ["trainees", self.count],
            ["provinces", self.provinces],
            ["attended at least one session", self.attended],
            ["eligible for a certificate", self.certified],
            ["government departments %", self.share("government")],
            [
                "universities and research institutes %",
                self.share("university", "research_institute"),
            ],
        ]
        for t in ORG_TYPES:
            out.append([f"{t} %", self.share(t)])
        return out


def statistics(
    event: Event | None,
    participants: list[Participant],
    table: Mapping[str, Mapping[str, SessionAttendance]] | None = None,
) -> Statistics:
    counts = Counter(p.org_type for p in participants)
    attended = certified = 0
    if table is not None and event is not None:
        for p in participants:
            row = table.get(p.id, {})
            if any(a.attended for a in row.values()):
                attended += 1
            if eligibility(event, p.id, row).eligible:
                certified += 1
    return Statistics(
        count=len(participants),
        provinces=len({p.province.strip().casefold() for p in participants}),
        by_org_type={t: counts.get(t, 0) for t in ORG_TYPES},
        attended=attended,
        certified=certified,
    )
