"""The shared browser modules every page builds on, run in real Chromium against a real
server: token (fragment -> tab, out of the address bar), ws (hello, replies by `re`,
refusal, reconnection and re-sending after a restart), i18n (placeholders, the event's
timezone whatever the device's), api (errors as ApiError)."""

from __future__ import annotations

from typing import Any

from pages_harness import PodiumServer


async def test_token_leaves_the_address_bar_and_stays_for_the_tab(
    podium: PodiumServer, browser: Any
) -> None:
    trainee = podium.token("trainee", participant="T003")
    page = await browser.new_page()
    await page.goto(f"{podium.url}/#lang=x&token={trainee}")
    taken = await page.evaluate(
        """async () => {
            const m = await import('/static/js/token.js');
            return {again: m.takeToken(), claims: m.tokenClaims(m.takeToken()),
                    stored: sessionStorage.getItem('podium.token'), hash: location.hash,
                    bad: m.tokenClaims('nonsense')};
        }"""
    )
    assert taken["again"] == trainee and taken["stored"] == trainee
    assert taken["hash"] == "#lang=x"  # other fragment parameters are left alone
    assert taken["claims"]["role"] == "trainee" and taken["claims"]["participant"] == "T003"
    assert taken["bad"] is None
    assert "token" not in page.url


async def test_socket_replies_refusal_and_resend_after_restart(
    podium: PodiumServer, browser: Any
) -> None:
    trainee = podium.token("trainee", participant="T004")
    page = await browser.new_page()
    await page.goto(f"{podium.url}/")
    first = await page.evaluate(
        """async (token) => {
            const {PodiumSocket} = await import('/static/js/ws.js');
            const states = [];
            const s = new PodiumSocket({token, device: 'test'});
            s.addEventListener('state', (e) => states.push(e.detail));
            const welcomed = new Promise((r) => s.addEventListener('welcome', (e) => r(e.detail)));
            s.connect();
            const welcome = await welcomed;
            const pong = await s.request('ping', {}, {id: 'p-1'});
            let error = null;
            try { await s.request('presence', {session: 'no-such', state: 'watching'}); }
            catch (e) { error = e; }
            window.sock = s; window.states = states;
            return {role: welcome.role, participant: welcome.participant, re: pong.re,
                    type: pong.type, error, states: [...states]};
        }""",
        trainee,
    )
    assert (first["role"], first["participant"]) == ("trainee", "T004")
    assert (first["type"], first["re"]) == ("pong", "p-1")
    assert first["error"]["code"] == "not_found"
    assert first["states"] == ["connecting", "live"]

    # The server goes away: a request made meanwhile waits, and is sent (same id) once
    # the socket is back.
    await podium.stop()
    await page.wait_for_function("() => window.sock.state !== 'live'")
    # (evaluate awaits a returned promise: keep it on window and return nothing)
    await page.evaluate(
        "() => { window.late = window.sock.request('ping', {}, {id: 'late-1'}).then((r) => r.re); }"
    )
    await podium.start()
    assert await page.evaluate("window.late") == "late-1"
    states = await page.evaluate("window.states")
    assert states[-1] == "live" and "offline" in states

    # A bad token is refused for good: no reconnection loop.
    refused = await page.evaluate(
        """async () => {
            const {PodiumSocket} = await import('/static/js/ws.js');
            const s = new PodiumSocket({token: 'pd1.bad.token', device: 'test'});
            const done = new Promise((r) => s.addEventListener('state', (e) => {
                if (e.detail === 'refused') r(true); }));
            s.connect();
            await done;
            await new Promise((r) => setTimeout(r, 1500));
            let rejected = null;
            try { await s.request('ping'); } catch (e) { rejected = e; }
            return {state: s.state, refusal: s.refusal, rejected};
        }"""
    )
    assert refused["state"] == "refused"
    assert refused["refusal"]["code"] in ("unauthorized", "forbidden")
    assert refused["rejected"] == refused["refusal"]


async def test_times_are_in_the_event_timezone_and_strings_fill(
    podium: PodiumServer, browser: Any
) -> None:
    # A device in New York still shows Shanghai times for a Shanghai event.
    context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
    page = await context.new_page()
    await page.goto(f"{podium.url}/")
    out = await page.evaluate(
        """async () => {
            const i = await import('/static/js/i18n.js');
            const {api, ApiError} = await import('/static/js/api.js');
            i.addStrings({en: {'x.hello': 'Hello {name}'}, 'zh-CN': {'x.hello': '你好 {name}'}});
            const en = i.t('x.hello', {name: 'Li'});
            i.setLang('zh-CN');
            const zh = i.t('x.hello', {name: 'Li'});
            const stored = localStorage.getItem('podium.lang');
            const time = i.formatTime('2021-04-24T06:00:00+00:00', 'Asia/Shanghai');
            const epoch = i.formatTime(1619244000, 'Asia/Shanghai');
            let err = null;
            try { await api('/api/v1/participants'); }
            catch (e) { err = {isApiError: e instanceof ApiError, status: e.status, code: e.code}; }
            return {en, zh, stored, lang: document.documentElement.lang, time, epoch, err,
                    missing: i.t('no.such.key')};
        }"""
    )
    assert out["en"] == "Hello Li" and out["zh"] == "你好 Li"
    assert out["stored"] == "zh-CN" and out["lang"] == "zh-CN"
    assert out["time"] == "14:00" and out["epoch"] == "14:00"
    assert out["err"] == {"isApiError": True, "status": 401, "code": "unauthorized"}
    assert out["missing"] == "no.such.key"
    await context.close()
