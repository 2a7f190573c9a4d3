"""The JSON the Redis store keeps: ledger writes as the commit script reads them, a
pair's scan lines, audit lines."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...attendance.records import DoorScan, PairLedger
from ..records import AuditRecord, LedgerWrite, audit_text, audit_to_json, json_text, json_value


def audit_line(record: AuditRecord) -> str:
    return audit_text(audit_to_json(record))


def scan_history(lines: list[str]) -> tuple[DoorScan, ...]:
    """A pair's scans from its list: scan lines in order, annulment lines flag them."""
    scans: list[DoorScan] = []
    for line in lines:
        data = json_value(line)
        if "annul" not in data:
            scans.append(DoorScan.from_json(data))
            continue
        # An annulment follows its scan: it flags scans before it only. Lines written
        # before they named the device flag every earlier scan with the id.
        scan_id, device = data["annul"], data.get("device")
        for n, x in enumerate(scans):
            if x.scan_id == scan_id and device in (None, x.device) and not x.annulled:
                scans[n] = dataclasses.replace(x, annulled=True)
    return tuple(scans)


def pair_ledger(
    pair: tuple[str, str], version: int, lines: list[str], watched: str | None
) -> PairLedger:
    return PairLedger(pair[0], pair[1], scan_history(lines), version, watched == "1")


def write_json(w: LedgerWrite) -> dict[str, Any]:
    """One write as `commit.lua` reads it (short field names: a batch is one argument)."""
    out: dict[str, Any] = {
        "k": w.dedupe_key,
        "body": json_text(w.stored.to_json()),
        "audit": audit_line(w.audit),
    }
    if w.pair is not None:
        out["pair"] = {
            "s": w.pair.session_id,
            "p": w.pair.participant_id,
            "v": w.pair.version,
            "lines": [x.json_text for x in w.appended]
            + [
                json_text({"annul": scan_id, "device": device, "v": w.pair.version})
                for scan_id, device in w.annulled
            ],
            "inside": int(w.inside),
            "door_seen": int(w.door_seen),
        }
    if w.recent is not None:
        out["recent"] = json_text(w.recent)
    if w.decided_on is not None:
        out["x"] = list(w.decided_on)
    if w.unrevoked_badge is not None:
        out["nr"] = w.unrevoked_badge
    if w.token is not None:
        out["t"] = w.token
    return out
