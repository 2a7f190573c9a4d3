"""`/admin` in headless Chromium against a real `podium serve --demo`: roster and
programme uploads (bad lines shown, nothing imported; a good roster reaches the live
dashboard), staff and speaker links with their QR code, revocation, downloads that
open, the audit log; axe and screenshots."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
from organizer_peers import Scanner, badge_codes, organizer_get
from pages_harness import PodiumServer, assert_accessible, screenshots

HEADER = "id,name,email,organization,org_type,province,mode\n"
LIVE = "opening"


async def open_admin(podium: PodiumServer, browser: Any, locale: str = "en-GB") -> tuple[Any, Any]:
    organizer = podium.token("organizer", device="admin-test")
    ctx = await browser.new_context(locale=locale, accept_downloads=True)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.errors = errors
    await page.goto(f"{podium.url}/admin#token={organizer}")
    await page.locator("#download-list button").first.wait_for()
    return ctx, page


async def roster_size(podium: PodiumServer) -> int:
    organizer = podium.token("organizer")
    listed = await organizer_get(podium.url, organizer, "/api/v1/participants")
    return len(listed["participants"])


async def test_a_bad_roster_shows_its_lines_and_a_good_one_reaches_the_dashboard(
    podium: PodiumServer, browser: Any
) -> None:
    ctx, page = await open_admin(podium, browser)
    assert "token" not in page.url
    bad = (
        HEADER
        + "N001,Chen Jing,cj@example.cn,Bureau,government,Guangdong,online\n"  # line 2: fine
        + "N002,Zhou Min,zm@example.cn,Park,ministry,Henan,online\n"  # 3: org_type
        + "N003,Sun Li,not-an-email,Uni,university,Hubei,in_person\n"  # 4: email
        + "N004,Too few\n"  # 5: fields
    )
    await page.set_input_files(
        "#roster-file",
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": bad.encode()}],
    )
    await page.get_by_role("button", name="Upload roster").click()
    errors = page.locator("#roster-result table.errors tbody tr")
    await errors.first.wait_for()
    lines = [await errors.nth(i).locator("th").inner_text() for i in range(await errors.count())]
    assert lines == ["3", "4", "5"]
    assert "ministry" in await errors.nth(0).inner_text()
    assert "nothing was imported" in await page.locator("#roster-result").inner_text()
    assert await roster_size(podium) == 180  # not even line 2
    await assert_accessible(page)
    await screenshots(page, "admin-roster-refused")

    # The live dashboard, open elsewhere, sees a good upload at once.
    organizer = podium.token("organizer")
    dashboard = await ctx.new_page()
    await dashboard.goto(f"{podium.url}/dashboard#token={organizer}")
    await dashboard.locator("#now-registered", has_text="180").wait_for()
    good = HEADER + "N001,Chen Jing,cj@example.cn,Bureau,government,Guangdong,online\n"
    await page.set_input_files(
        "#roster-file", files=[{"name": "ok.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    await page.get_by_role("button", name="Upload roster").click()
    await page.locator("#roster-result.ok", has_text="1 added").wait_for()
    await dashboard.locator("#now-registered", has_text="181").wait_for(timeout=3_000)
    await dashboard.locator("#fig-trainees", has_text="181").wait_for(timeout=5_000)
    assert await roster_size(podium) == 181
    assert page.errors == []
    await ctx.close()


async def test_a_bad_programme_is_refused_with_its_line(podium: PodiumServer, browser: Any) -> None:
    ctx, page = await open_admin(podium, browser)
    toml = b'[event]\nid = "x"\ntitle = "X"\ntimezone = "Asia/Shanghai"\n\n[[sessions]]\nid = "a"\n'
    await page.set_input_files(
        "#programme-file", files=[{"name": "e.toml", "mimeType": "text/plain", "buffer": toml}]
    )
    await page.get_by_role("button", name="Upload programme").click()
    row = page.locator("#programme-result table.errors tbody tr").first
    await row.wait_for()
    assert await row.locator("th").inner_text() == "6"  # the [[sessions]] it is about
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{podium.url}/api/v1/event") as response:
            assert (await response.json())["id"] != "x"  # the demo programme stays
    await ctx.close()


async def test_a_good_programme_reaches_the_open_dashboard(
    podium: PodiumServer, browser: Any
) -> None:
    ctx, page = await open_admin(podium, browser)
    organizer = podium.token("organizer")
    dashboard = await ctx.new_page()
    await dashboard.goto(f"{podium.url}/dashboard#token={organizer}")
    await dashboard.locator("#now-registered", has_text="180").wait_for()
    now = datetime.now(UTC).replace(microsecond=0)
    toml = (
        '[event]\nid = "ciep-2022"\ntitle = "Second training"\ntimezone = "Asia/Shanghai"\n\n'
        f'[[sessions]]\nid = "welcome"\ntitle = "Welcome back"\nroom = "Hall 2"\n'
        f"start = {(now - timedelta(minutes=5)).isoformat()}\n"
        f"end = {(now + timedelta(hours=1)).isoformat()}\n"
    )
    await page.set_input_files(
        "#programme-file",
        files=[{"name": "e.toml", "mimeType": "text/plain", "buffer": toml.encode()}],
    )
    await page.get_by_role("button", name="Upload programme").click()
    await page.locator("#programme-result.ok", has_text="Second training").wait_for()
    await dashboard.locator("#focus-title", has_text="Welcome back").wait_for(timeout=5_000)
    assert await dashboard.locator("#sessions-body tr").count() == 1
    assert await dashboard.locator("#now-registered").inner_text() == "180"
    await ctx.close()


async def test_staff_and_speaker_links_work_and_can_be_revoked(
    podium: PodiumServer, browser: Any
) -> None:
    ctx, page = await open_admin(podium, browser)
    # a device name is required, and said so
    await page.get_by_role("button", name="Issue scanner link").click()
    assert "Name the device" in await page.locator("#staff-result").inner_text()
    await page.fill("#staff-device", "door-C-3")
    await page.select_option("#staff-session", LIVE)
    await page.get_by_role("button", name="Issue scanner link").click()
    await page.locator("#staff-result svg.qr").wait_for()
    url = await page.locator("#staff-link-url").input_value()
    assert url.startswith(f"{podium.url}/scan#token=")
    qr_box = await page.locator("#staff-result svg.qr").bounding_box()
    assert qr_box is not None and qr_box["width"] >= 150  # big enough for a phone camera
    # the link works as /scan uses it: the token from its fragment opens a scanner
    token = url.split("#token=", 1)[1]
    organizer = podium.token("organizer")
    codes = await badge_codes(podium.url, organizer)
    async with Scanner(podium.url, token, "door-C-3") as door:
        assert (await door.scan(codes["T005"], LIVE))["outcome"] == "accepted"
        wrong = await door.scan(codes["T006"], "policy")  # bound to the opening only
        assert wrong["outcome"] == "wrong_session"
    row = page.locator("#issued-body tr", has_text="door-C-3")
    await row.wait_for()
    assert "Active" in await row.inner_text()

    await page.get_by_role("button", name="Issue speaker link").click()
    await page.locator("#speaker-whip-url").wait_for()
    assert await page.locator("#speaker-whip-url").input_value() == f"{podium.url}/whip/{LIVE}"
    bearer = await page.locator("#speaker-token").input_value()
    assert bearer.startswith("pd1.")
    publish = await page.locator("#speaker-link-url").input_value()
    assert publish == f"{podium.url}/publish/{LIVE}#token={bearer}"
    await assert_accessible(page)
    await screenshots(page, "admin-links")

    # revoke the scanner's link from the list: its next use is refused
    await row.get_by_role("button", name="Revoke").click()
    await page.locator("#issued-body tr", has_text="door-C-3").locator(".tag.bad").wait_for()
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(podium.url.replace("http", "ws") + "/ws")
        await ws.send_json({"type": "hello", "id": "h", "token": token, "device": "door-C-3"})
        msg = await ws.receive(timeout=10)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=10)
        assert ws.close_code == 4401
    # and a badge
    await page.fill("#badge-participant", "T007")
    await page.get_by_role("button", name="Revoke badge").click()
    await page.locator("#badge-result.ok", has_text="T007").wait_for()
    async with Scanner(podium.url, podium.token("staff"), "door-D") as door:
        assert (await door.scan(codes["T007"], LIVE))["outcome"] == "revoked"
    assert page.errors == []
    await ctx.close()


async def test_reports_download_and_open(
    podium: PodiumServer, browser: Any, tmp_path: Path
) -> None:
    ctx, page = await open_admin(podium, browser)
    async with page.expect_download() as info:
        await page.locator("button[data-file='attendance.xlsx']").click()
    download = await info.value
    assert download.suggested_filename == "attendance.xlsx"
    path = tmp_path / "attendance.xlsx"
    await download.save_as(path)
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert len(ids) == 180  # every trainee (a row per session each)
    assert "Statistics" in book.sheetnames

    async with page.expect_download() as info:
        await page.locator("button[data-file='invitations.csv']").click()
    saved = tmp_path / "invitations.csv"
    await (await info.value).save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 180 and all("/#token=pd1." in r["watch_url"] for r in rows)

    async with page.expect_download() as info:
        await page.locator("button[data-file='badges.pdf']").click()
    pdf = tmp_path / "badges.pdf"
    await (await info.value).save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    await ctx.close()


async def test_the_audit_log_filters_and_pages(podium: PodiumServer, browser: Any) -> None:
    organizer = podium.token("organizer")
    codes = await badge_codes(podium.url, organizer)
    async with Scanner(podium.url, podium.token("staff"), "door-E-5") as door:
        for pid in ("T020", "T021", "T022"):
            await door.scan(codes[pid], LIVE)
    async with Scanner(podium.url, podium.token("staff"), "door-F-6") as door:
        for n in range(30, 90):  # enough lines for more than one page
            await door.scan(codes[f"T{n:03d}"], LIVE)
    ctx, page = await open_admin(podium, browser, locale="zh-CN")
    assert await page.locator("h1").inner_text() == "活动管理"
    await page.fill("#audit-device", "door-E-5")
    await page.select_option("#audit-kind", "scan")
    await page.get_by_role("button", name="查询").click()
    rows = page.locator("#audit-body tr")
    await page.locator("#audit-status", has_text="3").wait_for()
    assert await rows.count() == 3
    assert [await rows.nth(i).locator("td").nth(3).inner_text() for i in range(3)] == [
        "T022",
        "T021",
        "T020",
    ]
    await page.fill("#audit-device", "")
    await page.fill("#audit-participant", "T021")
    await page.select_option("#audit-kind", "")
    await page.get_by_role("button", name="查询").click()
    await page.locator("#audit-status", has_text="1").wait_for()
    assert "accepted" in await rows.first.inner_text()
    # paged: more than 50 lines give an older page
    await page.fill("#audit-participant", "")
    await page.get_by_role("button", name="查询").click()
    await page.locator("#audit-status", has_text="50").wait_for()
    first_page = await rows.first.inner_text()
    older = page.get_by_role("button", name="更早的记录")
    assert await older.is_enabled()
    await older.click()
    await page.wait_for_function(
        "t => document.querySelector('#audit-body tr')?.innerText !== t", arg=first_page
    )
    await assert_accessible(page)
    await screenshots(page, "admin-audit-zh")
    assert page.errors == []
    await ctx.close()


async def test_a_staff_link_from_admin_opens_the_scan_page(
    podium: PodiumServer, browser: Any
) -> None:
    """The link as a door phone gets it: opened in its own browser, /scan goes live with
    the link's token and a badge typed in (a wedge scanner types code + Enter) is
    recorded under the link's device name."""
    ctx, page = await open_admin(podium, browser)
    await page.fill("#staff-device", "door-G-7")
    await page.select_option("#staff-session", LIVE)
    await page.get_by_role("button", name="Issue scanner link").click()
    url = await page.locator("#staff-link-url").input_value()
    phone = await browser.new_context(locale="en-GB", viewport={"width": 360, "height": 740})
    door = await phone.new_page()
    await door.goto(url)
    await door.locator("#conn[data-state='live']").wait_for(timeout=15_000)
    assert "token" not in door.url
    organizer = podium.token("organizer")
    codes = await badge_codes(podium.url, organizer)
    await door.locator("#code").fill(codes["T011"])
    await door.locator("#code").press("Enter")
    for _ in range(50):
        log = await organizer_get(podium.url, organizer, "/api/v1/audit?kind=scan&participant=T011")
        if log["entries"]:
            break
        await asyncio.sleep(0.2)
    (entry,) = log["entries"]
    assert entry["device"] == "door-G-7" and entry["detail"]["outcome"] == "accepted"
    await phone.close()
    await ctx.close()
