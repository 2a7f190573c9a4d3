// The scanner's outbox in IndexedDB: every scan is written here before it is sent, and
// removed only once the server has answered it. A scan made offline, or in flight when
// the page was closed, is still here on the next load and is sent then -- with the same
// id, so the server records it once however many times it arrives.

const DB_NAME = "podium-scan";
const STORE = "outbox";

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export class Outbox extends EventTarget {
  constructor(db) {
    super();
    this.db = db;
    this.size = 0;
  }

  /** The outbox of this browser (one per device name: two tabs never share scans). */
  static async open(device) {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open(`${DB_NAME}:${device}`, 1);
      request.onupgradeneeded = () => {
        // `seq` keeps the order scans were made in: they are sent in that order.
        request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const box = new Outbox(db);
    await box._recount();
    return box;
  }

  async _recount() {
    const tx = this.db.transaction(STORE, "readonly");
    this.size = await promised(tx.objectStore(STORE).count());
    this.dispatchEvent(new CustomEvent("size", { detail: this.size }));
  }

  /** Keep a scan: {id, session, direction, scanned_at, code | participant, offline}. */
  async add(item) {
    const tx = this.db.transaction(STORE, "readwrite");
    const seq = promised(tx.objectStore(STORE).add(item));
    await done(tx);
    await this._recount();
    return seq; // its place in the outbox
  }

  /** Whether the scan numbered `seq` is still waiting to be answered. */
  async has(seq) {
    const tx = this.db.transaction(STORE, "readonly");
    return (await promised(tx.objectStore(STORE).count(seq))) > 0;
  }

  /** The oldest `limit` scans, in the order they were made. */
  async oldest(limit) {
    const tx = this.db.transaction(STORE, "readonly");
    const all = await promised(tx.objectStore(STORE).getAll(null, limit));
    return all;
  }

  /** Forget scans by their `seq` (answered by the server, or undone before sending). */
  async remove(seqs) {
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const seq of seqs) store.delete(seq);
    await done(tx);
    await this._recount();
  }
}
