"""`/scan`, the door scanner, in headless Chromium against a real `podium serve --demo`:
a USB scanner (keyboard wedge), the camera (a fake one playing a badge's QR code),
manual search in Chinese and pinyin, offline scans kept and sent once, undo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
from fake_camera import write_y4m
from pages_harness import PodiumServer, assert_accessible, screenshots

from podium_server.store.factory import open_store

SESSION = "opening"  # the demo's session live now, in Hall 1


async def badges(podium: PodiumServer) -> dict[str, dict[str, Any]]:
    """The demo roster with each badge code, as the organizer's API gives it."""
    organizer = podium.token("organizer")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{podium.url}/api/v1/participants", headers={"Authorization": f"Bearer {organizer}"}
        ) as response:
            assert response.status == 200
            body = await response.json()
    return {p["id"]: p for p in body["participants"]}


async def open_scanner(
    podium: PodiumServer, context: Any, device: str = "door-A-1", session: str | None = None
) -> Any:
    token = podium.token("staff", device=device, session=session)
    page = await context.new_page()
    await page.goto(f"{podium.url}/scan#token={token}")
    await page.locator("body[data-ready=true]").wait_for()
    await page.locator("#conn[data-state=live]").wait_for()
    await page.select_option("#session", SESSION)
    return page


async def wedge(page: Any, code: str) -> None:
    """A USB barcode scanner: the code typed fast, then Enter, into whatever has focus."""
    await page.keyboard.type(code, delay=2)
    await page.keyboard.press("Enter")


async def test_a_wedge_scan_checks_a_trainee_in_and_the_card_names_them(
    podium: PodiumServer, browser: Any
) -> None:
    people = await badges(podium)
    person = people["T001"]
    context = await browser.new_context(locale="en-GB")
    page = await open_scanner(podium, context)
    assert "token" not in page.url
    await wedge(page, person["badge_code"])
    card = page.locator("#result[data-outcome=accepted]")
    await card.wait_for()
    text = await card.inner_text()
    assert "Welcome in" in text and person["name"] in text and person["province"] in text
    assert await page.locator("#inside").inner_text() == "1" or await _inside_soon(page, "1")
    await assert_accessible(page)
    await screenshots(page, "scan-accepted")
    # the same badge again: amber, already inside since the first scan
    await wedge(page, person["badge_code"])
    await page.locator("#result[data-outcome=already_inside]").wait_for()
    assert "Already inside since" in await page.locator("#result").inner_text()
    await context.close()


async def _inside_soon(page: Any, value: str) -> bool:
    await page.wait_for_function(
        "v => document.getElementById('inside').textContent === v", arg=value
    )
    return True


async def test_the_camera_reads_a_badge_once_however_long_it_is_held_up(
    podium: PodiumServer, launch_browser: Any, tmp_path: Path
) -> None:
    """Chromium's fake camera plays a demo badge's QR code (drawn with segno, written as
    .y4m frames): decoded in the page (no BarcodeDetector in this Chromium: the vendored
    zxing-wasm), checked in once though the code stays in view for seconds."""
    person = (await badges(podium))["T002"]
    video = write_y4m(tmp_path / "badge.y4m", person["badge_code"])
    browser = await launch_browser(
        [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ]
    )
    context = await browser.new_context(locale="en-GB", permissions=["camera"])
    page = await open_scanner(podium, context, device="door-cam")
    await page.get_by_role("button", name="Start camera").click()
    await page.locator("#result[data-outcome=accepted]").wait_for(timeout=20_000)
    assert person["name"] in await page.locator("#result").inner_text()
    assert "zxing-wasm" in await page.locator("#camera-note").inner_text()
    assert await page.locator("#torch").is_hidden()  # a camera without a torch: no switch
    # held in view for 3 s more (~30 frames decoded): still one scan
    await page.wait_for_timeout(3000)
    assert await page.locator("#recent li").count() == 1
    frames = int(await page.locator("#camera-note").get_attribute("data-frames") or 0)
    assert frames >= 10, frames
    await screenshots(page, "scan-camera")
    await context.close()


async def add_trainee(podium: PodiumServer, line: str) -> None:
    """One more trainee on the roster (a re-import updates by id and keeps the rest)."""
    organizer = podium.token("organizer")
    csv = "id,name,email,organization,org_type,province,mode\n" + line + "\n"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{podium.url}/api/v1/roster",
            data=csv.encode(),
            headers={"Authorization": f"Bearer {organizer}", "Content-Type": "text/csv"},
        ) as response:
            assert response.status == 200, await response.text()


async def test_manual_search_in_chinese_and_pinyin_then_a_manual_check_in(
    podium: PodiumServer, browser: Any
) -> None:
    await add_trainee(
        podium, "T900,张伟,zhang.wei@example.cn,深圳市科技创新委员会,government,Guangdong,in_person"
    )
    context = await browser.new_context(locale="zh-CN")
    page = await open_scanner(podium, context)
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    search = page.locator("#search")
    results = page.locator("#search-results li")
    for query in ("张伟", "zhang wei"):
        await search.fill(query)
        await results.filter(has_text="张伟").first.wait_for()
        text = await page.locator("#search-results").inner_text()
        assert "深圳市科技创新委员会" in text and "T900" in text
        assert "PB1." not in text and "@" not in text  # no badge code, no e-mail
    await assert_accessible(page)
    await screenshots(page, "scan-search-zh")
    await results.filter(has_text="张伟").get_by_role("button").click()
    card = page.locator("#result[data-outcome=accepted]")
    await card.wait_for()
    assert "欢迎入场" in await card.inner_text() and "张伟" in await card.inner_text()
    assert "手动" in await page.locator("#recent").inner_text()
    await context.close()


def forged(code: str) -> str:
    """A badge code with one signature character changed (a middle one: the last only
    carries padding bits)."""
    prefix, pid, signature = code.split(".")
    swapped = "B" if signature[20] != "B" else "C"
    return f"{prefix}.{pid}.{signature[:20]}{swapped}{signature[21:]}"


async def door_scans(podium: PodiumServer) -> list[Any]:
    """Every door scan in the server's store, read as a second client of the same store."""
    store = open_store(podium.store)
    await store.open()
    try:
        return list(await store.list_scans())
    finally:
        await store.close()


async def test_offline_scans_are_kept_over_a_reload_and_sent_once_with_their_times(
    podium: PodiumServer, browser: Any
) -> None:
    people = await badges(podium)
    context = await browser.new_context(locale="en-GB")
    page = await open_scanner(podium, context, device="door-off")
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    # The venue's network fails: the browser is offline and the server unreachable.
    await context.set_offline(True)
    await podium.stop()
    await page.locator("#conn[data-state=offline]").wait_for()
    made: dict[str, tuple[float, float]] = {}
    for pid in ("T010", "T011", "T012"):
        before = time.time()
        await wedge(page, people[pid]["badge_code"])
        await page.locator(
            f"#recent li[data-state=queued] >> text={pid}"
        ).wait_for()  # no roster offline: the id
        made[pid] = (before, time.time())
        card = page.locator("#result")
        assert await card.get_attribute("data-outcome") == "offline_ok"
        await page.wait_for_timeout(300)
    await wedge(page, forged(people["T013"]["badge_code"]))
    await page.locator("#result[data-outcome=invalid_signature]").wait_for()
    assert "Forged badge" in await page.locator("#result").inner_text()
    # one more, undone at once: it never leaves the browser
    await wedge(page, people["T014"]["badge_code"])
    await page.locator("#queued[data-count='4']").wait_for()
    await page.get_by_role("button", name="Undo last scan").click()
    await page.locator("#queued[data-count='3']").wait_for()
    assert "Waiting to send: 3" in await page.locator("#queued").inner_text()
    await assert_accessible(page)
    await screenshots(page, "scan-offline")

    # A reload with no network: the service worker's page, the outbox still holds three.
    await page.reload()
    await page.locator("body[data-ready=true]").wait_for()
    await page.locator("#queued[data-count='3']").wait_for()
    assert await page.locator("#recent li[data-state=queued]").count() == 3

    await podium.start()
    await context.set_offline(False)
    await page.locator("#conn[data-state=live]").wait_for(timeout=20_000)
    await page.locator("#queued[data-count='0']").wait_for()
    await page.locator("#recent li[data-state=synced]").nth(2).wait_for()
    # the upload's answers are shown, each beside its scan
    assert await page.locator("#recent li[data-state=synced][data-outcome=accepted]").count() == 3
    scans = await door_scans(podium)
    by_pid: dict[str, list[Any]] = {}
    for s in scans:
        by_pid.setdefault(s.participant_id, []).append(s)
    assert sorted(by_pid) == ["T010", "T011", "T012"]  # never the forged one, nor T014
    for pid, (before, after) in made.items():
        (one,) = by_pid[pid]  # exactly once
        assert one.session_id == SESSION and one.direction == "in" and one.device == "door-off"
        assert before - 1 <= one.at <= after + 1  # its offline time, not the upload's
        assert one.received_at > after + 1
    # sent again (a second reload, answers already in): nothing doubles
    await page.reload()
    await page.locator("#conn[data-state=live]").wait_for()
    assert len(await door_scans(podium)) == 3
    await context.close()


async def test_undo_annuls_the_last_scan_on_the_server(podium: PodiumServer, browser: Any) -> None:
    person = (await badges(podium))["T020"]
    context = await browser.new_context(locale="en-GB")
    page = await open_scanner(podium, context, device="door-undo", session=SESSION)
    # a token issued for one session offers that session only
    options = await page.locator("#session option").evaluate_all("os => os.map(o => o.value)")
    assert options == [SESSION]
    await wedge(page, person["badge_code"])
    await page.locator("#result[data-outcome=accepted]").wait_for()
    await _inside_soon(page, "1")
    await page.get_by_role("button", name="Undo last scan").click()
    await page.locator("#result[data-outcome=undone]").wait_for()
    await _inside_soon(page, "0")
    (scan,) = [s for s in await door_scans(podium) if s.participant_id == "T020"]
    assert scan.annulled
    # in again: a fresh entry, not "already inside"
    await wedge(page, person["badge_code"])
    await page.locator("#result[data-outcome=accepted]").wait_for()
    await context.close()


async def test_the_name_is_asked_once_choices_survive_a_reload_and_focus_returns(
    podium: PodiumServer, browser: Any
) -> None:
    people = await badges(podium)
    token = podium.token("staff")  # no device in the token: the page asks
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{podium.url}/scan#token={token}")
    await page.get_by_label("Scanner name").fill("door-B-2")
    await assert_accessible(page)
    await page.get_by_role("button", name="Save").click()
    await page.locator("#conn[data-state=live]").wait_for()
    await page.select_option("#session", SESSION)
    await page.locator("label[for=dir-out]").click()
    await page.reload()
    await page.locator("#conn[data-state=live]").wait_for()
    assert await page.locator("#device-form").is_hidden()  # not asked again
    assert await page.locator("#session").input_value() == SESSION
    assert await page.locator("#dir-out").is_checked()
    # Staff tapped elsewhere: the USB scanner's keys still reach the code field.
    await page.locator("#recent-heading").click()
    await wedge(page, people["T030"]["badge_code"])
    await page.locator("#result[data-outcome=not_inside]").wait_for()  # exit before entry
    # a forged badge online: red, said in words, and the server agrees
    await page.locator("label[for=dir-in]").click()
    await wedge(page, forged(people["T031"]["badge_code"]))
    await page.locator("#result[data-outcome=invalid_signature]").wait_for()
    assert "Forged badge" in await page.locator("#result").inner_text()
    assert await page.locator("#result.bad").count() == 1
    await screenshots(page, "scan-forged")
    await context.close()


async def test_without_a_staff_link_the_page_says_what_to_do(
    podium: PodiumServer, browser: Any
) -> None:
    context = await browser.new_context(locale="en-GB")
    trainee = podium.token("trainee", participant="T001")
    for url in (f"{podium.url}/scan", f"{podium.url}/scan#token={trainee}"):
        page = await context.new_page()  # a new document each (a fragment change is not)
        await page.goto(url)
        problem = page.locator("#problem")
        await problem.wait_for()
        assert "needs a staff link" in await problem.inner_text()
        assert await page.locator("#scanner").is_hidden()
    await assert_accessible(page)
    await context.close()
