"""The built-in demo: the International Technology Transfer Training at CIEP 2021.

Held in Shenzhen on 24-25 April 2021 at the 19th Conference on International Exchange
of Professionals (CIEP), in the room and online: 180 trainees from 18 provinces and
cities, 42% from government departments, 24% from universities and research institutes,
the rest from industrial parks, technology transfer centres and other institutions.

The programme is the one the public report of the training gives: the topics in their
order, each with its speakers, their titles and roles as the report words them, and the
course titles it names. The report gives the days but not the hours: the times here are
ours. The last topic had two speakers, Zhang Zhang in the room and Dr. Janice Ng of
Oxentia online from Oxford; each is a session of its own, so a trainee's attendance of
the online talk is measured on its own.

`demo_event()` keeps the real 2021 dates; `demo_event(live_at=now)` moves the programme
so that a streamed session is live now and the others follow, so a demo has something
happening. The roster is generated, deterministic (seeded) and plausible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .model import CertificatePolicy, CheckinPolicy, Event, Participant, Session

EVENT_ID = "ciep2021-itt"
EVENT_TITLE = "International Technology Transfer Training at CIEP 2021 (Shenzhen)"
TIMEZONE = "Asia/Shanghai"
ROSTER_SEED = 2021_04_24

# The report's figures, which the generated roster reproduces.
TRAINEES = 180
PROVINCES = 18
GOVERNMENT_PERCENT = 42
ACADEMIC_PERCENT = 24  # universities and research institutes

CASTEM = (
    "China Association of Science and Technology Evaluation and Management of "
    "Scientific and Technical Achievement"
)
NCSTE = "National Center for Science and Technology Evaluation"
NCSTE_ACHIEVEMENTS = (
    f"Department of Scientific and Technological Achievements and Technology Evaluation of {NCSTE}"
)


@dataclass(frozen=True)
class _Slot:
    id: str
    title: str
    day: int  # 0: 24 April, 1: 25 April
    start: str
    end: str
    speakers: tuple[str, ...]
    required: bool = True


# Every session is given in Hall 1 and streamed: hybrid, so trainees in the room (door
# scans) and online (watch time) can attend each of them, as certificates need.
_PROGRAMME: tuple[_Slot, ...] = (
    _Slot(
        "opening",
        "Opening remarks",
        0,
        "09:00",
        "09:30",
        (
            "Yao Weike, President of the China Association for International Science and "
            "Technology Cooperation",
            f"Han Jun, Deputy Chief Evaluator of the {NCSTE} and Secretary General of the {CASTEM}",
            "Xiao Wenchang, talent of Shenzhen’s “Peacock Plan”, Executive President "
            "of the Shenzhen Institute of Tian’an Cloud Park Industry-city Community, and "
            "Secretary General of the Innovation Federation of Guangming Science City",
        ),
        required=False,
    ),
    _Slot(
        "policy",
        "Development trend and policies on the transformation of scientific and "
        "technological achievements in China",
        0,
        "09:40",
        "11:40",
        (
            "Yang Yeyao, Director of the Department of Research Commercialization and "
            "Regional Innovation of Ministry of Science and Technology",
        ),
    ),
    _Slot(
        "evaluation",
        "Method and Practice of Scientific and Technological Achievement Evaluation",
        0,
        "14:00",
        "16:00",
        (
            f"Zhang Chunpeng, Director of the {NCSTE_ACHIEVEMENTS}",
            f"Dong Hongxia, Deputy Director of the {NCSTE_ACHIEVEMENTS}: the Specifications "
            "for Evaluation of Scientific and Technological Achievements",
        ),
    ),
    _Slot(
        "ip-management",
        "Technology transfer practice and intellectual property rights",
        0,
        "16:15",
        "17:45",
        (
            "Gao Jing, Deputy General Manager of the China Technology Exchange: technology "
            "transfer laws and the technology market",
            "Ding Zhixin, Deputy President of CENFO Intellectual Property: "
            "“Practice of Intellectual Property Rights Management”",
        ),
    ),
    _Slot(
        "trade-docking",
        "International Technical Trade and Demand-side Docking",
        1,
        "09:00",
        "11:00",
        (
            "Jiang Qingyun, Deputy Dean and Associate Professor of the School of Trade "
            "Negotiations of Shanghai University of International Business and Economics: "
            "“International Technical Trade and WTO Intellectual Property Rights Protection "
            "and Technology Theft”",
            "Zhu Nan, Director of ZGC Tianhe Technology Transfer Center: demand sorting and "
            "docking in technology transfer",
            "Yan Sheng, founder of PAIF and former President for Greater China Region of "
            "Intellectual Ventures: patent analysis and the evaluation of innovation strength",
        ),
    ),
    _Slot(
        "overseas-practice",
        "Practice and Sharing of Overseas Technology Transfer",
        1,
        "11:10",
        "12:10",
        ("Zhang Zhang, Secretary General of International Technology Transfer Network (ITTN)",),
    ),
    _Slot(
        "overseas-oxentia",
        "Practice and Sharing of Overseas Technology Transfer (given online from Oxford)",
        1,
        "14:00",
        "15:30",
        (
            "Dr. Janice Ng, Senior Consultant of Oxentia, Oxford’s Global Innovation "
            "Consultancy (online)",
        ),
    ),
)

FIRST_DAY = datetime(2021, 4, 24)


def demo_event(live_at: float | None = None) -> Event:
    """The programme; with `live_at` (epoch seconds) it is moved so the opening is live then."""
    tz = ZoneInfo(TIMEZONE)
    sessions = []
    for slot in _PROGRAMME:
        date = FIRST_DAY + timedelta(days=slot.day)
        sessions.append(
            Session(
                id=slot.id,
                title=slot.title,
                room="Hall 1",
                start=_at(date, slot.start, tz),
                end=_at(date, slot.end, tz),
                mode="hybrid",
                stream=True,
                required=slot.required,
                speakers=slot.speakers,
            )
        )
    if live_at is not None:
        # The opening started five minutes ago; everything keeps its place relative to it.
        now = datetime.fromtimestamp(live_at, UTC).astimezone(tz).replace(microsecond=0)
        shift = now - timedelta(minutes=5) - sessions[0].start
        sessions = [_shifted(s, shift) for s in sessions]
    return Event(
        id=EVENT_ID,
        title=EVENT_TITLE,
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
    assert len(provinces) == len(org_types) == len(modes) == TRAINEES
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
