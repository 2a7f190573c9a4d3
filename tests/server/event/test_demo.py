"""The demo: CIEP 2021's programme and a 180-trainee roster in the seed's proportions."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from podium_server.event.demo import (
    ACADEMIC_PERCENT,
    GOVERNMENT_PERCENT,
    PROVINCES,
    TRAINEES,
    demo_event,
    demo_roster,
)
from podium_server.event.loaders import load_event_file

EXAMPLE = Path(__file__).parents[3] / "examples" / "ciep2021.toml"


def test_roster_has_the_seed_proportions() -> None:
    roster = demo_roster()
    assert len(roster) == 180
    assert len({p.id for p in roster}) == 180
    provinces = Counter(p.province for p in roster)
    assert len(provinces) == 18
    assert {"Guangdong", "Jiangsu", "Beijing", "Henan", "Shanxi", "Hunan", "Sichuan"} <= set(
        provinces
    )
    kinds = Counter(p.org_type for p in roster)
    government = kinds["government"]
    academic = kinds["university"] + kinds["research_institute"]
    assert (government, academic, 180 - government - academic) == (76, 43, 61)
    assert round(100 * government / 180) == GOVERNMENT_PERCENT == 42
    assert round(100 * academic / 180) == ACADEMIC_PERCENT == 24
    assert {p.mode for p in roster} == {"in_person", "online", "hybrid"}


def test_roster_is_deterministic_and_plausible() -> None:
    first, second = demo_roster(), demo_roster()
    assert first == second
    assert len({p.name for p in first}) == 180
    assert all(p.province in p.organization or p.organization for p in first)
    assert all(p.email.endswith("@trainee.example.cn") for p in first)


def test_programme_lists_every_seed_session_on_the_real_dates() -> None:
    event = demo_event()
    titles = " / ".join(s.title.lower() for s in event.sessions)
    for topic in (
        "opening remarks",
        "policies on the transformation of scientific and technological achievements",
        "method and practice of scientific and technological achievement evaluation",
        "intellectual property rights",
        "international technical trade and demand-side docking",
        "practice and sharing of overseas technology transfer",
    ):
        assert topic in titles
    oxentia = event.session("overseas-oxentia")
    assert oxentia is not None and oxentia.stream
    assert any("Oxentia" in s for s in oxentia.speakers)
    # Certificates fair to both kinds of trainee: every required session takes door
    # scans (not online-only) and is streamed to the online trainees.
    for s in event.sessions:
        if s.required:
            assert s.mode == "hybrid" and s.stream, s.id
    assert event.sessions[0].start.isoformat() == "2021-04-24T09:00:00+08:00"
    assert event.sessions[-1].start.date().isoformat() == "2021-04-25"


def test_every_speaker_the_report_names_with_their_title() -> None:
    speakers = {s.id: " / ".join(s.speakers) for s in demo_event().sessions}
    expected = {
        "opening": (
            "Yao Weike, President of the China Association for International Science",
            "Han Jun, Deputy Chief Evaluator of the National Center for Science and "
            "Technology Evaluation",
            "Xiao Wenchang, talent of Shenzhen’s “Peacock Plan”",
        ),
        "policy": ("Yang Yeyao, Director of the Department of Research Commercialization",),
        "evaluation": ("Zhang Chunpeng, Director of the", "Dong Hongxia, Deputy Director of the"),
        "ip-management": (
            "Gao Jing, Deputy General Manager of the China Technology Exchange",
            "Ding Zhixin, Deputy President of CENFO Intellectual Property",
            "“Practice of Intellectual Property Rights Management”",
        ),
        "trade-docking": (
            "Jiang Qingyun, Deputy Dean and Associate Professor of the School of Trade",
            "“International Technical Trade and WTO Intellectual Property Rights Protection "
            "and Technology Theft”",
            "Zhu Nan, Director of ZGC Tianhe Technology Transfer Center",
            "Yan Sheng, founder of PAIF",
        ),
        "overseas-practice": ("Zhang Zhang, Secretary General of International Technology",),
        "overseas-oxentia": ("Dr. Janice Ng, Senior Consultant of Oxentia",),
    }
    assert set(speakers) == set(expected)
    for sid, names in expected.items():
        for name in names:
            assert name in speakers[sid], (sid, name)


def test_the_example_file_is_the_demo_programme_on_its_real_dates() -> None:
    assert load_event_file(EXAMPLE) == demo_event()
    text = EXAMPLE.read_text()
    for figure in (f"{TRAINEES} trainees", f"{PROVINCES} provinces", "42 %", "24 %"):
        assert figure in text


def test_demo_schedule_puts_a_streamed_session_live_now() -> None:
    now = time.time()
    event = demo_event(live_at=now)
    live = [s for s in event.sessions if s.start_ts <= now < s.end_ts]
    assert len(live) == 1 and live[0].stream
    later = [s for s in event.sessions if s.start_ts > now]
    assert len(later) == len(event.sessions) - 1
    # Durations and gaps are those of the real programme.
    real = demo_event()
    assert [s.duration_s for s in event.sessions] == [s.duration_s for s in real.sessions]
