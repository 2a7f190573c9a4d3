"""A WHIP publisher built on GStreamer's webrtcbin: run with the SYSTEM python3 (Debian's
python3-gi and gstreamer1.0 packages), not the project's venv, which cannot import gi.

    python3 gst_whip_publish.py URL TOKEN --codec h264|vp8 [--mtu 1400] [--seconds 20]
                                [--trickle]

Sends a test pattern (with detail, so pictures fill full-size packets) and a tone; POSTs
its offer to URL (RFC 9725), applies the answer, and DELETEs the resource at the end. With
--trickle the offer goes out at once, without candidates, and each candidate follows in a
PATCH (application/trickle-ice-sdpfrag, If-Match: the ETag), as browsers' clients do. Each
step is printed on stdout as one line ("answer 201 /whip/...", "ice connected", ...) for
the test to follow. Exits 0 after --seconds of streaming, 1 on any failure.
"""

from __future__ import annotations

import argparse
import ctypes
import queue
import sys
import threading
import urllib.error
import urllib.request
from urllib.parse import urljoin

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

VIDEO = {
    # GStreamer's payloaders default to mtu=1400: RTP packets up to 1400 bytes.
    "h264": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bitrate=2500 "
        "! video/x-h264,profile=constrained-baseline "
        "! rtph264pay config-interval=-1 aggregate-mode=zero-latency mtu={mtu} "
        "! application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000"
    ),
    "vp8": (
        "vp8enc deadline=1 target-bitrate=2500000 keyframe-max-dist=60 "
        "! rtpvp8pay mtu={mtu} picture-id-mode=15-bit "
        "! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
    ),
}


def say(*words: object) -> None:
    print(*words, flush=True)


def gather_on(pc: Gst.Element, address: str) -> list[object]:
    """Make webrtcbin's libnice agent gather on `address` only (loopback included).

    libnice leaves loopback interfaces out of its host candidates; on a host (or network
    namespace) with nothing else it has no candidate at all and never sends a check.
    Debian ships no GObject introspection data for libnice, so its C API is called
    through ctypes with the agent's pointer.
    """
    ice = pc.get_property("ice-agent")
    agent = ice.get_property("agent")
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    agent_ptr = get_pointer(agent.__gpointer__, None)
    nice = ctypes.CDLL("libnice.so.10")
    nice.nice_address_new.restype = ctypes.c_void_p
    nice.nice_address_set_from_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    nice.nice_agent_add_local_address.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    nice.nice_address_free.argtypes = [ctypes.c_void_p]
    addr = nice.nice_address_new()
    try:
        if not nice.nice_address_set_from_string(addr, address.encode()):
            raise ValueError(f"bad address {address!r}")
        if not nice.nice_agent_add_local_address(agent_ptr, addr):
            raise RuntimeError("libnice refused the local address")
    finally:
        nice.nice_address_free(addr)
    # The caller keeps these wrappers as long as the pipeline: dropping them early
    # releases a reference PyGObject never took and webrtcbin loses its ICE agent.
    return [ice, agent]


class Publisher:
    def __init__(
        self, url: str, token: str, codec: str, mtu: int, width: int, height: int, trickle: bool
    ):
        self.url, self.token, self.trickle = url, token, trickle
        self.location: str | None = None
        self.etag: str | None = None
        self.failed = False
        # Trickled candidates ("a=candidate:..." or "a=end-of-candidates"), PATCHed in
        # order by one worker thread once the answer (Location, ETag) is known.
        self.patches: queue.Queue[str] = queue.Queue()
        self.answered = threading.Event()
        self.ice_lines: list[str] = []
        pipeline = (
            "webrtcbin name=pc bundle-policy=max-bundle "
            f"videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
            f"! video/x-raw,width={width},height={height},framerate=30/1 "
            "! videoconvert ! queue "
            f"! {VIDEO[codec].format(mtu=mtu)} ! pc. "
            "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue "
            "! opusenc ! rtpopuspay mtu=1400 "
            "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 "
            "! pc."
        )
        self.pipe = Gst.parse_launch(pipeline)
        self.pc = self.pipe.get_by_name("pc")
        self._keep = gather_on(self.pc, "127.0.0.1")
        self.pc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.pc.connect("notify::ice-connection-state", self.on_ice_state)
        self.pc.connect("notify::ice-gathering-state", self.on_gathering_state)
        self.pc.connect("on-ice-candidate", self.on_candidate)
        self.offered = False
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def start(self) -> None:
        self.pipe.set_state(Gst.State.PLAYING)

    def on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        err, debug = message.parse_error()
        say("error", err.message, debug)
        self.failed = True
        loop.quit()

    def on_ice_state(self, pc: Gst.Element, _spec: object) -> None:
        state = pc.get_property("ice-connection-state")
        say("ice", state.value_nick)
        if state in (
            GstWebRTC.WebRTCICEConnectionState.FAILED,
            GstWebRTC.WebRTCICEConnectionState.CLOSED,
        ):
            self.failed = True
            loop.quit()

    def on_negotiation_needed(self, pc: Gst.Element) -> None:
        for t in range(2):
            transceiver = pc.emit("get-transceiver", t)
            if transceiver is not None:
                transceiver.set_property(
                    "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY
                )
        promise = Gst.Promise.new_with_change_func(self.on_offer, pc)
        pc.emit("create-offer", None, promise)

    def on_offer(self, promise: Gst.Promise, pc: Gst.Element) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        say("offer", "made" if offer is not None else "missing")
        if offer is None:
            say("error", "no offer:", reply.to_string() if reply is not None else None)
            self.failed = True
            GLib.idle_add(loop.quit)
            return
        if not self.trickle:
            pc.emit("set-local-description", offer, Gst.Promise.new())
            return
        sdp = offer.sdp.as_text()
        lines = sdp.splitlines()
        self.ice_lines = [
            next(ln for ln in lines if ln.startswith("a=ice-ufrag:")),
            next(ln for ln in lines if ln.startswith("a=ice-pwd:")),
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            next(ln for ln in lines if ln.startswith("a=mid:")),
        ]
        self.offered = True
        pc.emit("set-local-description", offer, Gst.Promise.new())
        threading.Thread(target=self.post_offer, args=(sdp,), daemon=True).start()
        threading.Thread(target=self.send_patches, daemon=True).start()

    def on_candidate(self, _pc: Gst.Element, _mline: int, candidate: str) -> None:
        if self.trickle and candidate:
            self.patches.put(f"a={candidate}")

    def send_patches(self) -> None:
        self.answered.wait()
        while not self.failed:
            lines = [self.patches.get()]
            while not self.patches.empty():
                lines.append(self.patches.get())
            body = "\r\n".join([*self.ice_lines, *lines]) + "\r\n"
            request = urllib.request.Request(
                self.location or self.url,
                data=body.encode(),
                method="PATCH",
                headers={
                    "Content-Type": "application/trickle-ice-sdpfrag",
                    "Authorization": f"Bearer {self.token}",
                    "If-Match": self.etag or "*",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    say("patch", response.status, len(lines))
            except urllib.error.HTTPError as exc:
                say("patch", exc.code, exc.read().decode()[:200])
            if "a=end-of-candidates" in lines:
                return

    def on_gathering_state(self, pc: Gst.Element, _spec: object) -> None:
        # No trickle: post the offer once gathering is done (a loopback-only host may
        # have no candidate at all; the server learns ours from our checks).
        say("gathering", pc.get_property("ice-gathering-state").value_nick)
        if pc.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            return
        if self.trickle:
            self.patches.put("a=end-of-candidates")
            return
        if self.offered:
            return
        self.offered = True
        sdp = pc.get_property("local-description").sdp.as_text()
        threading.Thread(target=self.post_offer, args=(sdp,), daemon=True).start()

    def post_offer(self, sdp: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=sdp.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, response.read().decode()
                self.location = urljoin(self.url, response.headers["Location"])
                self.etag = response.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            say("answer", exc.code, exc.read().decode()[:300])
            self.failed = True
            GLib.idle_add(loop.quit)
            return
        say("answer", status, self.location)
        self.answered.set()
        GLib.idle_add(self.apply_answer, answer)

    def apply_answer(self, answer: str) -> bool:
        _, message = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(
            GstWebRTC.WebRTCSDPType.ANSWER, message
        )
        self.pc.emit("set-remote-description", description, Gst.Promise.new())
        return False

    def stop(self) -> None:
        self.pipe.set_state(Gst.State.NULL)
        if self.location is None:
            return
        request = urllib.request.Request(
            self.location, method="DELETE", headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                say("deleted", response.status)
        except urllib.error.HTTPError as exc:
            say("deleted", exc.code)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--codec", choices=sorted(VIDEO), default="h264")
    parser.add_argument("--mtu", type=int, default=1400)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--trickle", action="store_true", help="candidates by PATCH")
    args = parser.parse_args()
    Gst.init(None)
    publisher = Publisher(
        args.url, args.token, args.codec, args.mtu, args.width, args.height, args.trickle
    )
    publisher.start()
    GLib.timeout_add(int(args.seconds * 1000), loop.quit)
    loop.run()
    publisher.stop()
    say("done", "failed" if publisher.failed else "ok")
    return 1 if publisher.failed else 0


loop = GLib.MainLoop()

if __name__ == "__main__":
    sys.exit(main())
