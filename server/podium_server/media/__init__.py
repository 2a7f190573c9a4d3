"""WebRTC media: WHIP ingest, WHEP playback, the encoded pass-through relay and its helpers."""
