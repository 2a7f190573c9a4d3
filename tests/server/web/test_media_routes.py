"""WHIP/WHEP over HTTP through a real app (aiohttp_client) and real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from podium_server import appkeys as keys
from podium_server.media.ice import offer_addresses, rtc_configuration
from web_client import MakeClient, bearer

pytestmark = pytest.mark.media
LOOPBACK = ("127.0.0.1",)
CORS = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers")


def auth(client: TestClient, role: str, **claims: Any) -> dict[str, str]:
    return {**bearer(client, role, **claims), "Content-Type": "application/sdp"}


async def offer(direction: str) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(rtc_configuration())
    if direction == "sendonly":
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    else:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_whip_then_whep_answer_shape_and_delete(client: TestClient) -> None:
    pub, sdp = await offer("sendonly")
    view, view_sdp = await offer("recvonly")
    try:
        speaker = auth(client, "speaker", session="s1")
        r = await client.post("/whip/s1", data=sdp, headers=speaker)
        assert r.status == 201, await r.text()
        assert r.content_type == "application/sdp"
        location = r.headers["Location"]
        assert location.startswith("/whip/s1/")
        answer = await r.text()
        assert answer.startswith("v=0\r\n")
        assert "a=setup:passive" in answer and "a=setup:active" not in answer
        assert "127.0.0.1" in answer
        assert all(h in r.headers for h in CORS)
        await pub.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        # A second publisher (another token) while the first is live: 409.
        other, other_sdp = await offer("sendonly")
        organizer = auth(client, "organizer")
        second = await client.post("/whip/s1", data=other_sdp, headers=organizer)
        assert second.status == 409
        assert (await second.json())["error"]["code"] == "conflict"
        assert "Access-Control-Allow-Origin" in second.headers
        await other.close()

        trainee = auth(client, "trainee", participant="p001")
        w = await client.post("/whep/s1", data=view_sdp, headers=trainee)
        assert w.status == 201, await w.text()
        assert w.headers["Location"].startswith("/whep/s1/")
        assert "a=setup:passive" in await w.text()

        # PATCH is trickle ICE: an SDP body is the wrong type; the resource allows it.
        patch = await client.patch(location, data="a=end-of-candidates", headers=speaker)
        assert patch.status == 415
        put = await client.put(location, data="x", headers=speaker)
        assert put.status == 405
        assert {"DELETE", "PATCH"} <= set(put.headers["Allow"].replace(",", " ").split())

        # Only the owner (or an organizer) may end a viewer; others see no such resource.
        stranger = auth(client, "trainee", participant="p002")
        assert (await client.delete(w.headers["Location"], headers=stranger)).status == 404
        assert (await client.delete(w.headers["Location"], headers=trainee)).status == 200
        assert (await client.delete(location, headers=speaker)).status == 200
        assert (await client.delete(location, headers=speaker)).status == 404
    finally:
        await pub.close()
        await view.close()


async def test_options_preflight_has_cors_without_auth(client: TestClient) -> None:
    for path in ("/whip/s1", "/whep/s1", "/whep/s1/abc"):
        r = await client.options(
            path,
            headers={"Origin": "https://player.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        allow_headers = r.headers["Access-Control-Allow-Headers"]
        assert "Authorization" in allow_headers and "Content-Type" in allow_headers
        assert "Location" in r.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    ("path", "role", "claims", "body", "ctype", "status", "code"),
    [
        ("/whip/s1", None, {}, "v=0\r\n", "application/sdp", 401, "unauthorized"),
        (
            "/whip/s1",
            "trainee",
            {"participant": "p1"},
            "v=0\r\n",
            "application/sdp",
            403,
            "forbidden",
        ),
        ("/whip/s1", "speaker", {"session": "s9"}, "v=0\r\n", "application/sdp", 403, "forbidden"),
        ("/whep/s1", "speaker", {"session": "s1"}, "v=0\r\n", "application/sdp", 403, "forbidden"),
        (
            "/whip/nope",
            "organizer",
            {},
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
            "application/sdp",
            404,
            "not_found",
        ),
        (
            "/whep/s2",
            "organizer",
            {},
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
            "application/sdp",
            404,
            "not_found",
        ),
        ("/whip/s1", "organizer", {}, "v=0\r\n", "application/json", 415, "unsupported_media_type"),
        ("/whip/s1", "organizer", {}, "hello", "application/sdp", 400, "bad_request"),
        ("/whep/s1", "organizer", {}, "v=0\r\ns=-\r\n", "application/sdp", 400, "bad_request"),
        # aiortc's own parser fails by assertion on this one: still a 400, never a 500
        (
            "/whep/s1",
            "organizer",
            {},
            "v=0\r\nm=audio x\r\n",
            "application/sdp",
            400,
            "bad_request",
        ),
    ],
)
async def test_error_cases_are_json_with_cors(
    client: TestClient,
    path: str,
    role: str | None,
    claims: dict[str, str],
    body: str,
    ctype: str,
    status: int,
    code: str,
) -> None:
    headers = {"Content-Type": ctype}
    if role is not None:
        headers["Authorization"] = auth(client, role, **claims)["Authorization"]
    r = await client.post(path, data=body, headers=headers)
    assert r.status == status, await r.text()
    assert (await r.json())["error"]["code"] == code
    assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_offer_without_a_relayable_codec_is_406(client: TestClient) -> None:
    pc = RTCPeerConnection(rtc_configuration())
    t = pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    t.setCodecPreferences(
        [c for c in t.sender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
    )
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    try:
        r = await client.post(
            "/whip/s1", data=pc.localDescription.sdp, headers=auth(client, "organizer")
        )
        assert r.status == 406
        assert (await r.json())["error"]["code"] == "not_acceptable"
    finally:
        await pc.close()


async def test_demo_mode_streams_the_synthetic_lecture_on_streamed_sessions(
    make_client: MakeClient,
) -> None:
    from podium_server.web.media import MEDIA

    client = await make_client(demo=True, demo_stream=True, event=None)
    event = client.app[keys.EVENT].require()
    streamed = {s.id for s in event.sessions if s.stream}
    assert streamed
    media = client.app[MEDIA]
    assert set(media.relays) == streamed
    for _ in range(50):
        if all(r.sources["video"].packets for r in media.relays.values()):
            break
        await asyncio.sleep(0.1)
    assert all(r.sources["video"].packets > 0 for r in media.relays.values())
    assert all(r.sources["video"].cache.has_keyframe for r in media.relays.values())  # type: ignore[union-attr]


async def test_concurrent_whip_offers_register_one_publisher(client: TestClient) -> None:
    from podium_server.web.media import MEDIA

    peers = [await offer("sendonly") for _ in range(2)]
    try:
        speaker = auth(client, "speaker", session="s1")
        responses = await asyncio.gather(
            *(client.post("/whip/s1", data=sdp, headers=speaker) for _, sdp in peers)
        )
        assert sorted(r.status for r in responses) in ([201, 201], [201, 409])
        media = client.app[MEDIA]
        # Never two publishers feeding one session at once.
        assert len([p for p in media.publishers.values() if p.session.session_id == "s1"]) == 1
    finally:
        for pc, _ in peers:
            await pc.close()


async def test_a_trainee_has_at_most_three_viewers_the_oldest_closed(client: TestClient) -> None:
    from podium_server.media.service import MAX_VIEWERS_PER_PARTICIPANT
    from podium_server.web.media import MEDIA

    trainee = auth(client, "trainee", participant="P1")
    peers = [await offer("recvonly") for _ in range(MAX_VIEWERS_PER_PARTICIPANT + 1)]
    try:
        locations = []
        for _, sdp in peers:
            r = await client.post("/whep/s1", data=sdp, headers=trainee)
            assert r.status == 201, await r.text()
            locations.append(r.headers["Location"].rsplit("/", 1)[1])
        live = set(client.app[MEDIA].viewers)
        assert locations[0] not in live
        assert set(locations[1:]) <= live
        other = auth(client, "trainee", participant="P2")
        pc, sdp = await offer("recvonly")
        peers.append((pc, sdp))
        assert (await client.post("/whep/s1", data=sdp, headers=other)).status == 201
        assert set(locations[1:]) <= set(client.app[MEDIA].viewers)  # P2 closes none of P1's
    finally:
        for pc, _ in peers:
            await pc.close()


def _replace_first(sdp: str, prefix: str, edit: Callable[[str], str]) -> str:
    lines = sdp.split("\r\n")
    i = next(i for i, ln in enumerate(lines) if ln.startswith(prefix))
    lines[i] = edit(lines[i])
    return "\r\n".join(lines)


def _set_field(index: int, value: str) -> Callable[[str], str]:
    def edit(line: str) -> str:
        fields = line.split(" ")
        fields[index] = value
        return " ".join(fields)

    return edit


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda sdp: "\r\n".join(ln for ln in sdp.split("\r\n") if "fingerprint" not in ln), "a=fingerprint"),
        (lambda sdp: _replace_first(sdp, "m=video", _set_field(1, "70000")), "out-of-range m-line port"),
        (lambda sdp: _replace_first(sdp, "a=candidate:", _set_field(5, "65536")), "out-of-range candidate port"),
        (lambda sdp: _replace_first(sdp, "m=audio", _set_field(1, "-1")), "out-of-range m-line port"),
    ],
    ids=["no-fingerprint", "m-line-port", "candidate-port", "negative-port"],
)  # fmt: skip
async def test_offer_without_fingerprint_or_with_a_bad_port_is_400(
    client: TestClient, damage: Callable[[str], str], message: str
) -> None:
    pc, sdp = await offer("sendonly")
    try:
        for path, role, claims in (
            ("/whip/s1", "speaker", {"session": "s1"}),
            ("/whep/s1", "trainee", {"participant": "p001"}),
        ):
            r = await client.post(path, data=damage(sdp), headers=auth(client, role, **claims))
            assert r.status == 400, (path, await r.text())
            body = await r.json()
            assert body["error"]["code"] == "bad_request" and message in body["error"]["message"]
            assert r.headers["Access-Control-Allow-Origin"] == "*"
        from podium_server.web.media import MEDIA

        assert not client.app[MEDIA].publishers and not client.app[MEDIA].viewers
    finally:
        await pc.close()


async def test_packets_the_relay_drops_are_counted_in_the_metrics(client: TestClient) -> None:
    from podium_server.web.media import MEDIA

    media = client.app[MEDIA]
    metrics = client.app[keys.METRICS]
    assert media.on_packet_dropped is not None
    for reason in ("too-long", "queue-full", "too-long"):
        media._packet_dropped(reason)  # what each viewer's outbox calls on a drop
    assert metrics.value("podium_relay_packets_dropped_total") == 3
    assert media.stats.packets_dropped == {"too-long": 2, "queue-full": 1}
    assert "podium_relay_packets_dropped_total 3" in metrics.render()
