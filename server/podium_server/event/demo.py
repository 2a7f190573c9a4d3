"""The built-in demo: the International Technology Transfer Training at CIEP 2021.

Held in Shenzhen on 24-25 April 2021 at the 19th Conference on International Exchange
of Professionals, in the room and online: 180 trainees from 18 provinces, 42% from
government departments, 24% from universities and research institutes, the rest from
industrial parks, technology transfer centres and other institutions. One talk on
overseas technology transfer practice was given online by a consultant of Oxentia
(Oxford) and streamed into the room.

`demo_event()` keeps the real 2021 dates; `demo_event(live_at=now)` moves the programme
so that a streamed session is live now and the others follow, so a demo has something
happening. The roster is generated, deterministic (seeded) and plausible.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .model import CertificatePolicy, CheckinPolicy, Event, Participant, Session

EVENT_ID = "ciep2021-itt"
TIMEZONE = "Asia/Shanghai"
ROSTER_SEED = 2021_04_24

_OPENING_SPEAKERS = (
    "Yao Weike, President, China Association for International Science and Technology Cooperation",
    "Han Jun, Deputy Chief Evaluator, National Center for Science and Technology Evaluation; "
    "Secretary General, China Association of Science and Technology Evaluation and Management "
    "of Scientific and Technical Achievement (CASTEM)",
)

# (id, title, day, start, end, room, mode, stream, required, speakers)
_PROGRAMME: tuple[tuple[str, str, int, str, str, str, str, bool, bool, tuple[str, ...]], ...] = (
    (
        "opening",
        "Opening remarks",
        0,
        "09:00",
        "09:30",
        "Hall 1",
        "hybrid",
        True,
        False,
        _OPENING_SPEAKERS,
    ),
    (
        "policy",
        "Policy on the transformation of S&T achievements",
        0,
        "09:40",
        "11:40",
        "Hall 1",
        "hybrid",
        True,
        True,
        (
            "China Association of Science and Technology Evaluation and Management of Scientific "
            "and Technical Achievement (CASTEM)",
        ),
    ),
    (
        "evaluation",
        "S&T achievement evaluation: method and practice",
        0,
        "14:00",
        "16:00",
        "Hall 1",
        "hybrid",
        True,
        True,
        ("National Center for Science and Technology Evaluation",),
    ),
    (
        "ip-management",
        "Intellectual property management practice",
        0,
        "16:15",
        "17:45",
        "Hall 1",
        "hybrid",
        True,
        True,
        ("CENFO Intellectual Property",),
    ),
    (
        "trade-docking",
        "International technical trade and demand-side docking",
        1,
        "09:00",
        "11:00",
        "Hall 1",
        "hybrid",
        True,
        True,
        ("International Technology Transfer Network (ITTN)",),
    ),
    (
        "overseas-practice",
        "Overseas technology transfer practice",
        1,
        "11:10",
        "12:10",
        "Hall 1",
        "hybrid",  # given in the room, streamed to the online trainees
        True,
        True,
        ("MaTRineX Academy of International Innovation & Strategy",),
    ),
    (
        "overseas-oxentia",
        "Overseas technology transfer practice: a view from Oxford "
        "(given online, streamed into the room)",
        1,
        "14:00",
        "15:30",
        "Hall 1",
        # The speaker is abroad; the trainees are in the room (door scans) and online:
        # a required session both kinds of trainee can attend.
        "hybrid",
        True,
        True,
        ("Consultant, Oxentia (Oxford, United Kingdom), speaking online",),
    ),
)

FIRST_DAY = datetime(2021, 4, 24)


def demo_event(live_at: float | None = None) -> Event:
    """The programme; with `live_at` (epoch seconds) it is moved so the opening is live then."""
    tz = ZoneInfo(TIMEZONE)
    sessions = []
    for sid, title, day, start, end, room, mode, stream, required, speakers in _PROGRAMME:
        date = FIRST_DAY + timedelta(days=day)
        sessions.append(
            Session(
                id=sid,
                title=title,
                room=room,
                start=_at(date, start, tz),
                end=_at(date, end, tz),
                mode=mode,  # type: ignore[arg-type]
                stream=stream,
                required=required,
                speakers=speakers,
            )
        )
    if live_at is not None:
        # The opening started five minutes ago; everything keeps its place relative to it.
        now = datetime.fromtimestamp(live_at, UTC).astimezone(tz).replace(microsecond=0)
        shift = now - timedelta(minutes=5) - sessions[0].start
        sessions = [_shifted(s, shift) for s in sessions]
    return Event(
        id=EVENT_ID,
        title="International Technology Transfer Training at CIEP 2021 (Shenzhen)",
        timezone=TIMEZONE,
        sessions=tuple(sessions),
        checkin=CheckinPolicy(opens_before_min=30, closes_after_start_min=None),
        certificate=CertificatePolicy(min_fraction=0.75, required="all"),
    )


def _at(date: datetime, hhmm: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return date.replace(hour=hour, minute=minute, tzinfo=tz)


def _shifted(s: Session, shift: timedelta) -> Session:
    return Session(
        id=s.id,
        title=s.title,
        room=s.room,
        start=s.start + shift,
        end=s.end + shift,
        mode=s.mode,
        stream=s.stream,
        required=s.required,
        speakers=s.speakers,
    )


# -- roster --------------------------------------------------------------------------------

# 18 provinces; Guangdong, the host, sends the most. Counts add up to 180.
PROVINCE_COUNTS: dict[str, int] = {
    "Guangdong": 52,
    "Jiangsu": 14,
    "Beijing": 13,
    "Henan": 11,
    "Shanxi": 9,
    "Hunan": 9,
    "Sichuan": 9,
    "Shanghai": 8,
    "Zhejiang": 8,
    "Shandong": 7,
    "Hubei": 7,
    "Fujian": 6,
    "Anhui": 5,
    "Chongqing": 5,
    "Shaanxi": 5,
    "Tianjin": 4,
    "Liaoning": 4,
    "Yunnan": 4,
}
# 76 government (42%), 43 universities and research institutes (24%), 61 others (34%).
ORG_TYPE_COUNTS: dict[str, int] = {
    "government": 76,
    "university": 30,
    "research_institute": 13,
    "industrial_park": 22,
    "transfer_center": 25,
    "other": 14,
}
MODE_COUNTS: dict[str, int] = {"in_person": 118, "online": 42, "hybrid": 20}

_CITIES: dict[str, tuple[str, ...]] = {
    "Guangdong": ("Shenzhen", "Guangzhou", "Foshan", "Dongguan", "Zhuhai"),
    "Jiangsu": ("Nanjing", "Suzhou", "Wuxi"),
    "Beijing": ("Beijing",),
    "Henan": ("Zhengzhou", "Luoyang"),
    "Shanxi": ("Taiyuan", "Datong"),
    "Hunan": ("Changsha", "Zhuzhou"),
    "Sichuan": ("Chengdu", "Mianyang"),
    "Shanghai": ("Shanghai",),
    "Zhejiang": ("Hangzhou", "Ningbo"),
    "Shandong": ("Jinan", "Qingdao"),
    "Hubei": ("Wuhan", "Xiangyang"),
    "Fujian": ("Fuzhou", "Xiamen"),
    "Anhui": ("Hefei", "Wuhu"),
    "Chongqing": ("Chongqing",),
    "Shaanxi": ("Xi'an",),
    "Tianjin": ("Tianjin",),
    "Liaoning": ("Shenyang", "Dalian"),
    "Yunnan": ("Kunming",),
}
_ORG_TEMPLATES: dict[str, tuple[str, ...]] = {
    "government": (
        "{province} Provincial Department of Science and Technology",
        "{city} Municipal Science and Technology Bureau",
        "{city} Bureau of Human Resources and Social Security",
        "{city} Foreign Experts Affairs Office",
    ),
    "university": (
        "{city} University of Technology",
        "{city} University",
        "{province} Normal University",
    ),
    "research_institute": (
        "{province} Academy of Sciences",
        "{city} Institute of Industrial Technology Research",
        "{province} Academy of Agricultural Sciences",
    ),
    "industrial_park": (
        "{city} High-tech Industrial Development Zone",
        "{city} Science and Technology Park",
    ),
    "transfer_center": (
        "{city} Technology Transfer Center",
        "{province} Science & Technology Cooperation Center",
        "{city} Productivity Promotion Center",
    ),
    "other": (
        "{city} Technology Market Association",
        "{city} Innovation Service Co., Ltd.",
        "{province} Intellectual Property Service Center",
    ),
}
_SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Luo",
    "Gao",
    "Liang",
    "Zheng",
    "Xie",
    "Song",
    "Tang",
    "Deng",
    "Feng",
    "Han",
    "Cao",
    "Peng",
)
_GIVEN = (
    "Wei",
    "Fang",
    "Min",
    "Jing",
    "Lei",
    "Qiang",
    "Yan",
    "Jun",
    "Hui",
    "Ping",
    "Gang",
    "Xiaoming",
    "Lina",
    "Haiyan",
    "Jianguo",
    "Yifan",
    "Zhiwei",
    "Xin",
    "Tao",
    "Hong",
    "Yu",
    "Chao",
    "Ying",
    "Bo",
    "Dan",
    "Kai",
    "Rui",
    "Shu",
    "Ning",
    "Jie",
    "Lan",
    "Yuxuan",
    "Zihan",
    "Mingyu",
    "Jiahui",
    "Haoran",
    "Xiuying",
    "Guiying",
    "Wenjie",
)


def _expand(counts: dict[str, int]) -> list[str]:
    return [key for key, n in counts.items() for _ in range(n)]


def demo_roster() -> list[Participant]:
    """180 trainees in the seed's proportions; the same list every time."""
    rng = random.Random(ROSTER_SEED)
    provinces = _expand(PROVINCE_COUNTS)
    org_types = _expand(ORG_TYPE_COUNTS)
    modes = _expand(MODE_COUNTS)
    rng.shuffle(org_types)
    rng.shuffle(modes)
    assert len(provinces) == len(org_types) == len(modes) == 180
    used_names: set[str] = set()
    roster = []
    for i, (province, org_type, mode) in enumerate(zip(provinces, org_types, modes, strict=True)):
        while True:
            surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN)
            name = f"{surname} {given}"
            if name not in used_names:
                used_names.add(name)
                break
        city = rng.choice(_CITIES[province])
        organization = rng.choice(_ORG_TEMPLATES[org_type]).format(city=city, province=province)
        pid = f"T{i + 1:03d}"
        email = f"{given.lower()}.{surname.lower()}.{i + 1:03d}@trainee.example.cn"
        roster.append(
            Participant(
                id=pid,
                name=name,
                email=email,
                organization=organization,
                org_type=org_type,
                province=province,
                mode=mode,
            )
        )
    return roster
