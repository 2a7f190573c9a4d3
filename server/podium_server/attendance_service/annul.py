"""Annulling a door scan: staff take back a scan their own device made by mistake.

An annul is rare, so it is committed on its own rather than batched: it reads the
scan's stored answer (which names its pair) and the pair's ledger, decides
(attendance.checkin.decide_annul), and writes the pair's new ledger with the annul's
audit line and answer, checked against the version it read like any pair write.
"""

from __future__ import annotations

from collections.abc import Callable

from ..attendance import checkin, protocol
from ..attendance.answers import AnnulAnswer, Answer, Refusal
from ..attendance.checkin import Scanner
from ..attendance.records import PairLedger
from ..errors import TokenRevoked
from ..store.records import CONFLICT, TOKEN_REVOKED, AuditRecord, LedgerWrite, StoredReply
from ..store.roles import AttendanceStore
from .dashboard_feed import DashboardFeed
from .node_caches import PairLedgers
from .scan_pipeline import MAX_RETRIES
from .scan_writes import dedupe_key, pair_write


class Annuls:
    """Decides and commits annuls. Owns nothing of its own: it drops the pair ledger it
    changes from the batcher's copies (`ledgers`) and tells the dashboard feed."""

    def __init__(
        self,
        store: AttendanceStore,
        ledgers: PairLedgers,
        feed: DashboardFeed,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.ledgers = ledgers
        self.feed = feed
        self.clock = clock

    async def annul(self, request: protocol.Annul, scanner: Scanner) -> Answer:
        """The scan annulled, or a refusal (not_found / forbidden) for the adapter to
        send; for a retry, the first answer to its id."""
        key = dedupe_key(scanner.device, request.id)
        target_key = dedupe_key(scanner.device, request.scan_id)
        for _ in range(MAX_RETRIES):
            now = self.clock()
            # A retry (this id answered before) is decided again too: its commit answers
            # it with the first answer, unless its token is revoked by then.
            first = await self.store.lookup([target_key], [], [])
            target = first.replies.get(target_key)
            pair: PairLedger | None = None
            if target is not None and target.session_id and target.participant_id:
                pair_key = (target.session_id, target.participant_id)
                pair = (await self.store.lookup([], [pair_key], [])).pairs[pair_key]
            decision = checkin.decide_annul(pair, request.scan_id, scanner.device, now)
            answer: Answer
            if decision.outcome == checkin.ANNULLED:
                answer = AnnulAnswer(request.scan_id)
            else:
                answer = Refusal(decision.outcome, decision.reason)
            # Kept as the frame sent, as a scan's answer is: a retry is answered the same.
            reply = protocol.answer_frame(request.id, answer)
            audit = AuditRecord(
                at=now,
                kind="annul",
                device=scanner.device,
                actor=scanner.actor,
                detail={"id": request.id, "scan_id": request.scan_id, "outcome": decision.outcome},
            )
            new_pair = decision.new_pair
            if new_pair is None:
                write = LedgerWrite(key, StoredReply(reply), audit, token=scanner.actor)
            else:
                recent = {
                    "scan_id": request.scan_id,
                    "participant": new_pair.participant_id,
                    "direction": "annulled",
                    "at": now,
                    "device": scanner.device,
                }
                assert decision.scan is not None
                annulled = ((decision.scan.scan_id, decision.scan.device),)
                write = pair_write(
                    key, reply, audit, new_pair, now, recent, annulled=annulled, token=scanner.actor
                )
            (res,) = await self.store.commit([write])
            if new_pair is not None:
                # The batcher's copy is older now (or, on a conflict, was): drop it, so
                # the next scan of this pair reads it.
                self.ledgers.drop((new_pair.session_id, new_pair.participant_id))
            if res.status == TOKEN_REVOKED:
                raise TokenRevoked()
            if res.status == CONFLICT:
                continue
            if res.stored is not None:  # a retry: the first answer to this id again
                return protocol.answer_from_frame(res.stored.reply)
            if new_pair is not None:
                await self.feed.changed({new_pair.session_id})
            return answer
        raise RuntimeError("annul kept conflicting")
