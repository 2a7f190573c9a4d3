from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podium_server.event.model import CertificatePolicy, CheckinPolicy, Event, Participant, Session

T0 = datetime(2021, 11, 18, 9, 0, tzinfo=UTC).timestamp()


def make_event(required: str | int = "all", min_fraction: float = 0.75) -> Event:
    def s(sid: str, h0: float, h1: float, **kw: object) -> Session:
        return Session(
            id=sid,
            title=sid.title(),
            start=datetime.fromtimestamp(T0 + h0 * 3600, UTC),
            end=datetime.fromtimestamp(T0 + h1 * 3600, UTC),
            **kw,  # type: ignore[arg-type]
        )

    return Event(
        id="ev1",
        title="Event",
        timezone="Asia/Shanghai",
        sessions=(
            s("s1", 0, 1),
            s("s2", 1, 2),
            s("s3", 2, 3, mode="online", stream=True),
            s("s4", 3, 4, required=False),
        ),
        checkin=CheckinPolicy(opens_before_min=30),
        certificate=CertificatePolicy(min_fraction=min_fraction, required=required),  # type: ignore[arg-type]
    )


def make_participant(
    pid: str = "p1", province: str = "Guangdong", org_type: str = "government"
) -> Participant:
    return Participant(pid, f"Name {pid}", f"{pid}@example.org", "Org", org_type, province)


@pytest.fixture
def event() -> Event:
    return make_event()
