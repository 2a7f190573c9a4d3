from __future__ import annotations

from pathlib import Path

import pytest
import segno

from podium_server.auth import BadgeError, BadgeSigner, BadgeVerifier
from podium_server.auth.badge_sheet import write_badges
from podium_server.auth.tokens import b64e
from podium_server.event.demo import demo_roster
from podium_server.event.model import Participant


def test_public_key_alone_verifies_a_badge() -> None:
    signer = BadgeSigner.from_secret(b"s" * 32)
    offline = BadgeVerifier.from_public_bytes(signer.public_bytes)
    assert offline.verify(signer.code_for("T001")) == "T001"


def test_forged_badge_is_told_apart_offline() -> None:
    genuine = BadgeSigner.from_secret(b"s" * 32)
    forger = BadgeSigner.from_secret(b"f" * 32)
    offline = BadgeVerifier.from_public_bytes(genuine.public_bytes)
    with pytest.raises(BadgeError) as info:
        offline.verify(forger.code_for("T001"))
    assert info.value.reason == "invalid_signature"
    # Someone else's signature pasted on another id is forged too.
    _, _, sig = genuine.code_for("T001").split(".")
    with pytest.raises(BadgeError) as info:
        offline.verify(f"PB1.T002.{sig}")
    assert info.value.reason == "invalid_signature"


def test_only_the_canonical_encoding_of_a_signature_verifies() -> None:
    """86 base64url characters carry 516 bits for 64 bytes: the last character's 4 low
    bits are padding. Sixteen strings decode to the same signature; one is the badge."""
    signer = BadgeSigner.from_secret(b"s" * 32)
    code = signer.code_for("T001")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(code[-1])
    variants = [code[:-1] + alphabet[(last & ~0xF) | low] for low in range(16)]
    assert code in variants and len(set(variants)) == 16
    accepted = []
    for variant in variants:
        try:
            accepted.append(signer.verify(variant) and variant)
        except BadgeError as err:
            assert err.reason == "invalid_signature", variant
    assert accepted == [code]


@pytest.mark.parametrize(
    "code",
    [
        "",
        "PB1.T001",
        "XX1.T001.abc",
        "PB1.bad id." + b64e(b"x" * 64),
        None,
        "PB1.a.!!!",
        "PB1.T001." + "A" * 300,
    ],
)
def test_malformed_codes(code: object) -> None:
    with pytest.raises(BadgeError) as info:
        BadgeSigner.from_secret(b"s" * 32).verify(code)
    assert info.value.reason == "malformed"


def test_badge_code_fits_a_small_qr() -> None:
    code = BadgeSigner.from_secret(b"s" * 32).code_for("T001")
    assert len(code) < 100
    assert segno.make(code, error="m").version <= 6


def test_badge_sheets(tmp_path: Path) -> None:
    signer = BadgeSigner.from_secret(b"s" * 32)
    roster = demo_roster()[:10]
    write_badges(tmp_path / "b.html", roster, signer, title="CIEP 2021")
    page = (tmp_path / "b.html").read_text()
    assert page.count('class="badge"') == 10
    assert (
        signer.code_for("T001") in page
        and "<svg" in page
        and "http" not in page.split("<main")[0].replace("http-equiv", "")
    )
    write_badges(tmp_path / "b.pdf", roster, signer, title="CIEP 2021")
    pdf = (tmp_path / "b.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") >= 1
    with pytest.raises(ValueError):
        write_badges(tmp_path / "b.png", roster, signer, title="x")


def test_pdf_badges_print_chinese_names(tmp_path: Path) -> None:
    signer = BadgeSigner.from_secret(b"s" * 32)
    person = Participant(
        id="C1",
        name="王伟",
        email="",
        organization="深圳市科技创新委员会",
        org_type="government",
        province="广东",
        mode="in_person",
    )
    write_badges(tmp_path / "zh.pdf", [person], signer, title="国际技术转移培训")
    pdf = (tmp_path / "zh.pdf").read_bytes()
    # The Chinese font is embedded (CI installs fonts-wqy-microhei).
    assert b"WenQuanYi" in pdf or b"NotoSansCJK" in pdf
