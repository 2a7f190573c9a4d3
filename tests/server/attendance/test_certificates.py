from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance.certificates import CertificateError, CertificateSigner

SIGNER = CertificateSigner.from_secret(b"s" * 32)


def test_round_trip_and_tamper() -> None:
    cid = SIGNER.issue("ciep-2021", "T001")
    ref = SIGNER.verify(cid)
    assert (ref.event_id, ref.participant_id) == ("ciep-2021", "T001")
    with pytest.raises(CertificateError) as e:
        SIGNER.verify(cid.replace("T001", "T002"))
    assert e.value.reason == "invalid_signature"
    other = CertificateSigner.from_secret(b"t" * 32)
    with pytest.raises(CertificateError):
        other.verify(cid)


@given(st.text(max_size=300))
def test_garbage_never_verifies(text: str) -> None:
    with pytest.raises(CertificateError):
        SIGNER.verify(text)
