"""Trickle ICE (RFC 9725 section 4.3) over HTTP: a publisher whose offer carries no
candidate and who ignores ours connects only through its PATCHed candidates; If-Match is
checked against the ETag (412 when stale); malformed fragments and ICE restarts are
refused."""

from __future__ import annotations

import time

import aiohttp
import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from podium_http import Podium, wait_until
from podium_server.media import aiortc_private
from podium_server.media.ice import offer_addresses, rtc_configuration

from .peers import LOOPBACK, PacketTrack, watch

pytestmark = pytest.mark.media

TRICKLE = "application/trickle-ice-sdpfrag"


def without_candidates(sdp: str) -> str:
    lines = [ln for ln in sdp.split("\r\n") if not ln.startswith(("a=candidate:", "a=end-of"))]
    return "\r\n".join(lines).replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")


def fragment_of(sdp: str, *, candidates: bool = True, ufrag: str | None = None) -> str:
    """The trickle fragment a client sends: its credentials, first mid, candidates."""
    lines = sdp.split("\r\n")
    own_ufrag = next(ln for ln in lines if ln.startswith("a=ice-ufrag:"))
    pwd = next(ln for ln in lines if ln.startswith("a=ice-pwd:"))
    mid = next(ln for ln in lines if ln.startswith("a=mid:"))
    out = [
        f"a=ice-ufrag:{ufrag}" if ufrag else own_ufrag,
        pwd,
        "m=audio 9 UDP/TLS/RTP/SAVPF 0",
        mid,
    ]
    if candidates:
        out += [ln for ln in lines if ln.startswith("a=candidate:")]
    out.append("a=end-of-candidates")
    return "\r\n".join(out) + "\r\n"


async def test_publisher_connects_through_trickled_candidates_only(
    podium: Podium, vp8_packets: list[av.Packet]
) -> None:
    token = podium.token("speaker", session="s1")
    pc = RTCPeerConnection(rtc_configuration())
    pc.addTransceiver(PacketTrack(vp8_packets), direction="sendonly")
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    local = pc.localDescription.sdp
    viewer = None
    async with aiohttp.ClientSession() as http:
        try:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
            started = time.monotonic()
            async with http.post(
                f"{podium.url}/whip/s1", data=without_candidates(local), headers=headers
            ) as r:
                assert r.status == 201, await r.text()
                assert r.headers["Accept-Patch"] == TRICKLE
                etag, location = r.headers["ETag"], f"{podium.url}{r.headers['Location']}"
                answer = await r.text()
            # We ignore the server's candidates: only its checks to ours can connect.
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=without_candidates(answer), type="answer")
            )
            patch = {"Authorization": f"Bearer {token}", "Content-Type": TRICKLE}

            async def send(body: str, **extra: str) -> aiohttp.ClientResponse:
                async with http.patch(location, data=body, headers={**patch, **extra}) as resp:
                    await resp.read()
                    return resp

            stale = await send(fragment_of(local), **{"If-Match": '"an-old-session"'})
            assert stale.status == 412
            assert (await wait_until(lambda: pc.connectionState == "connected", 1.0)) is False
            bad = await send(fragment_of(local).replace(" udp ", " udp x "), **{"If-Match": etag})
            assert bad.status == 400
            restart = await send(fragment_of(local, ufrag="another"), **{"If-Match": etag})
            assert restart.status == 405
            wrong_type = await send(fragment_of(local), **{"If-Match": etag, "Content-Type": "application/sdp"})  # fmt: skip
            assert wrong_type.status == 415

            ok = await send(fragment_of(local), **{"If-Match": etag})
            assert ok.status == 204 and ok.headers["ETag"] == etag
            assert await wait_until(lambda: pc.connectionState == "connected", 10), (
                pc.connectionState
            )
            connect_time = time.monotonic() - started
            (publisher,) = podium.media.publishers.values()
            (conn,) = aiortc_private.ice_connections(publisher.pc)
            ports = {c.port for c in conn.remote_candidates}
            ours = {
                int(ln.split()[5]) for ln in local.split("\r\n") if ln.startswith("a=candidate:")
            }
            assert ours <= ports  # the trickled candidates reached the server's ICE agent
            assert podium.media.stats.trickled_candidates == len(ours)
            assert connect_time < 10

            viewer = await watch(podium.whep("s1"), audio=False)  # type: ignore[arg-type]
            assert await viewer.wait_frames(10, within=8)
        finally:
            if viewer is not None:
                await viewer.close()
            await pc.close()


async def test_patch_refusals(podium: Podium) -> None:
    token = podium.token("speaker", session="s1")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": TRICKLE}
    async with aiohttp.ClientSession() as http:
        async with http.patch(
            f"{podium.url}/whip/s1/nope", data="a=end-of-candidates\r\n", headers=headers
        ) as r:
            assert r.status == 404
        async with http.options(f"{podium.url}/whip/s1/nope") as r:
            assert r.status == 204 and "PATCH" in r.headers["Allow"]
            assert r.headers["Accept-Patch"] == TRICKLE
        trainee = podium.token("trainee", participant="p001")
        async with http.patch(
            f"{podium.url}/whip/s1/nope",
            data="a=end-of-candidates\r\n",
            headers={**headers, "Authorization": f"Bearer {trainee}"},
        ) as r:
            assert r.status == 403
