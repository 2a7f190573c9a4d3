// WHIP (publishing): the caller adds its tracks to `pc` (send-only), then this offers
// them to the server. Returns {location, etag, stop()}; errors are ApiError
// (401/403 refused token, 409 session already being published, …).

import { negotiate } from "./whep.js";

export async function whip(url, token, pc) {
  for (const transceiver of pc.getTransceivers()) {
    if (transceiver.sender.track) transceiver.direction = "sendonly";
  }
  return negotiate(url, token, pc);
}
