// Sends the outbox, oldest first, one request at a time while the socket is live: a
// lone scan as `scan`, a backlog (scans made offline) as `sync`, whose answers come back
// in order. A scan leaves the outbox only once answered. Requests cut off by a dropped
// socket are sent again by the socket with the same id (see ws.js), and a scan still in
// the outbox after a reload goes again with its own id: the server answers a repeated
// id the same and records it once.

const SYNC_MAX = 200; // the server takes up to 500 scans per sync
const RETRY_MS = 1000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A queued scan as the server reads it. */
export function scanFrame(item) {
  const frame = {
    id: item.id,
    session: item.session,
    direction: item.direction,
    scanned_at: item.scanned_at,
  };
  if (item.participant) frame.participant = item.participant;
  else frame.code = item.code;
  return frame;
}

export class Sender {
  /** onResults(items, results): the answers, in order, before the items leave the outbox. */
  constructor({ socket, outbox, onResults }) {
    this.socket = socket;
    this.outbox = outbox;
    this.onResults = onResults;
    this.running = false;
    this.again = false;
    this.inFlight = new Set(); // ids of the scans sent and not answered yet
    this.withdrawn = new Set(); // ids undone before they were sent: never sent
  }

  /** Undo a scan not sent yet: true if it will never be sent (the caller removes it
   * from the outbox); false if it is on its way already (annul it instead). */
  withdraw(id) {
    if (this.inFlight.has(id)) return false;
    this.withdrawn.add(id);
    return true;
  }

  /** Send what is queued (now, or right after the request under way). */
  kick() {
    if (this.running) {
      this.again = true;
      return;
    }
    this._run();
  }

  async _run() {
    this.running = true;
    try {
      do {
        this.again = false;
        while (this.socket.state === "live") {
          const queued = await this.outbox.oldest(SYNC_MAX);
          if (!queued.length) break;
          const batch = queued.filter((item) => !this.withdrawn.has(item.id));
          if (!batch.length) {
            await sleep(20); // being removed by an undo
            continue;
          }
          const results = await this._send(batch);
          try {
            if (results !== null) this.onResults(batch, results);
          } finally {
            // null: refused for now, tried again; else answered, out of the outbox
            if (results !== null) await this.outbox.remove(batch.map((item) => item.seq));
            for (const item of batch) this.inFlight.delete(item.id);
          }
        }
      } while (this.again && this.socket.state === "live");
    } finally {
      this.running = false;
    }
  }

  /** The answers to a batch, or null to try it again later. */
  async _send(batch) {
    for (const item of batch) this.inFlight.add(item.id);
    try {
      if (batch.length === 1 && !batch[0].offline) {
        const { id, ...fields } = scanFrame(batch[0]);
        return [await this.socket.request("scan", fields, { id })];
      }
      const reply = await this.socket.request("sync", { scans: batch.map(scanFrame) });
      return reply.results;
    } catch (err) {
      if (this.socket.state === "refused") return null; // the token is refused: kept
      if (err && err.code === "rate_limited") {
        await sleep(RETRY_MS);
        return null;
      }
      if (batch.length === 1) {
        // This scan itself was refused (e.g. dated ahead of the server's clock): its answer.
        return [{ type: "error", re: batch[0].id, code: err.code, message: err.message }];
      }
      await sleep(RETRY_MS);
      return null;
    }
  }
}
