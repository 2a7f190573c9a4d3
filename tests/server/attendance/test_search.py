"""Staff search: names, organizations, ids and pinyin; never e-mails or badge codes."""

from __future__ import annotations

from podium_server.attendance.search import SearchIndex, normalize, readings, result_json
from podium_server.event.model import Participant

PEOPLE = [
    Participant("T001", "张伟", "zw@mail.example.cn", "深圳市科技局", "government", "Guangdong"),
    Participant("T002", "曾强", "zq@mail.example.cn", "武汉大学", "university", "Hubei"),
    Participant(
        "T003", "Zhang Wei", "wei.zhang@x.org", "Shenzhen Park", "industrial_park", "Guangdong"
    ),
    Participant(
        "T004", "吕思思", "secret.name@x.org", "Tech Transfer Centre", "transfer_center", "Hunan"
    ),
    Participant("T005", "Ann Lee", "ann@x.org", "Hubei Institute", "research_institute", "Hubei"),
]
INDEX = SearchIndex(PEOPLE)


def ids(query: str) -> list[str]:
    return [p.id for p in INDEX.find(query)]


def test_a_chinese_name_is_found_by_its_characters_and_its_pinyin() -> None:
    assert ids("张伟") == ["T001"]
    assert ids("张") == ["T001"]  # one Chinese character is a real query
    # spaced, unspaced, any case, initials: "Zhang Wei" (T003) written in letters too
    for query in ("zhang wei", "ZhangWei", "zhang w", " ZHANG   WEI "):
        assert sorted(ids(query)) == ["T001", "T003"], query
    assert ids("zw") == ["T001"]


def test_characters_with_several_readings_are_found_by_each() -> None:
    assert "zeng qiang" in readings("曾强") and "ceng qiang" in readings("曾强")
    assert ids("zeng qiang") == ["T002"] and ids("ceng") == ["T002"]
    assert ids("lv si") == ["T004"]  # ü typed as v, as pinyin keyboards do
    assert readings("Ann Lee") == []


def test_organization_province_and_id_match_and_an_exact_id_comes_first() -> None:
    assert ids("科技局") == ["T001"]
    assert ids("transfer") == ["T004"]
    assert set(ids("hubei")) == {"T002", "T005"}
    assert ids("t004") == ["T004"]
    assert ids("T00")[:1] != []  # ids are found by their prefix too


def test_e_mail_addresses_are_never_matched_or_returned() -> None:
    """An e-mail oracle: 'is secret.name@x.org on the roster?' must not be answerable."""
    for query in ("secret.name@x.org", "secret.name", "@x.org", "mail.example", "wei.zhang"):
        assert ids(query) == [], query
    for person in PEOPLE:
        shown = result_json(person)
        assert set(shown) == {"id", "name", "organization", "province"}
        assert person.email not in shown.values()


def test_short_or_empty_queries_list_nobody_and_results_are_capped() -> None:
    assert ids("") == [] and ids(" ") == [] and ids("z") == []
    many = SearchIndex(
        Participant(f"P{i:03d}", f"Wang {i}", f"w{i}@x.org", "Org", "other", "Hubei")
        for i in range(60)
    )
    assert len(many.find("wang")) == 20 and len(many.find("wang", limit=5)) == 5


def test_normalize() -> None:
    assert normalize("  Lǚ  Sī ") == "lu si"
    assert normalize("ＡＢＣ") == "abc"  # full-width letters from a CJK keyboard


def test_a_rebuilt_index_reuses_the_entries_of_everyone_unchanged() -> None:
    """A roster reload (every few seconds while staff search) computes pinyin only for
    new or changed people."""
    changed = Participant(
        "T002", "曾强", "zq@mail.example.cn", "武汉理工大学", "university", "Hubei"
    )
    new = Participant("T006", "王芳", "wf@x.org", "Org", "other", "Hubei")
    again = SearchIndex([*PEOPLE[:1], changed, *PEOPLE[2:], new], previous=INDEX)
    old = {e.person.id: e for e in INDEX._entries}
    fresh = {e.person.id: e for e in again._entries}
    assert fresh["T001"] is old["T001"] and fresh["T004"] is old["T004"]
    assert fresh["T002"] is not old["T002"] and "武汉理工大学" in fresh["T002"].fields[2]
    assert [p.id for p in again.find("wang fang")] == ["T006"]
    assert [p.id for p in again.find("理工")] == ["T002"]
