"""Reports and certificates: attendance so far, read from the store and decided by the
pure core (attendance.reports); certificate ids checked against it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..attendance.certificates import CertificateError, CertificateSigner
from ..attendance.eligibility import SessionAttendance
from ..attendance.reports import RecordsByPair, attendance_table, eligibility_of
from ..event.holder import EventHolder
from ..event.model import Event, Participant
from ..store.roles import Store


class AttendanceReports:
    """Owns nothing but its readers: every report is computed afresh from the store."""

    def __init__(
        self,
        store: Store,
        events: EventHolder,
        certificates: CertificateSigner,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.events = events
        self.certificates = certificates
        self.clock = clock

    async def report(
        self, now: float | None = None
    ) -> tuple[Event, list[Participant], dict[str, dict[str, SessionAttendance]]]:
        """Attendance so far: time not yet lived (a trainee inside a running session) is
        not counted, so no certificate is issued or verified on time still to come."""
        event = self.events.require()
        people = await self.store.list_participants()
        records = RecordsByPair.build(
            await self.store.list_scans(), await self.store.list_watches()
        )
        at = self.clock() if now is None else now
        return event, people, attendance_table(event, people, records, at)

    async def verify_certificate(self, cert_id: str) -> dict[str, Any]:
        try:
            ref = self.certificates.verify(cert_id)
        except CertificateError as err:
            return {"valid": False, "reason": err.reason}
        event = self.events.event
        if event is None or event.id != ref.event_id:
            return {"valid": False, "reason": "unknown_event"}
        person = await self.store.get_participant(ref.participant_id)
        if person is None:
            return {"valid": False, "reason": "unknown_participant"}
        _, _, table = await self.report()
        e = eligibility_of(event, person.id, table)
        if not e.eligible:
            # A genuine id no longer backed by the attendance recorded: say so, tell nothing about whom.
            return {"valid": False, "reason": "not_eligible", "certificate_id": ref.id}
        return {
            "valid": True,
            "reason": "",
            "certificate_id": ref.id,
            "event": {"id": event.id, "title": event.title},
            "participant": {
                "id": person.id,
                "name": person.name,
                "organization": person.organization,
            },
            "sessions_attended": list(e.attended_required),
        }
