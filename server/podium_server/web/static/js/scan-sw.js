// The door scanner's service worker (scope /scan): keeps the page, its modules, the QR
// decoder, the programme and the badge key, so that a reload with no network still gives
// staff a working scanner (its queued scans are in IndexedDB, not here).
//
// Our own files: network first (a fix reaches every phone at once), the kept copy when
// the network fails or hangs. Vendor files never change under their name: cache first.

const CACHE = "podium-scan-v1";
const NETWORK_WAIT_MS = 3000;
const VENDOR = "/static/vendor/zxing-wasm-3.1.8/dist";
const KEPT = [
  "/scan",
  "/static/css/podium.css",
  "/static/css/scan.css",
  "/static/js/api.js",
  "/static/js/event.js",
  "/static/js/i18n.js",
  "/static/js/strings.js",
  "/static/js/token.js",
  "/static/js/ws.js",
  "/static/js/scan.js",
  "/static/js/scan-badge.js",
  "/static/js/scan-camera.js",
  "/static/js/scan-feedback.js",
  "/static/js/scan-queue.js",
  "/static/js/scan-recent.js",
  "/static/js/scan-search.js",
  "/static/js/scan-sender.js",
  "/static/js/scan-sessions.js",
  "/static/js/scan-strings.js",
  `${VENDOR}/es/reader/index.js`,
  `${VENDOR}/es/share.js`,
  `${VENDOR}/reader/zxing_reader.wasm`,
  "/api/v1/event",
  "/api/v1/badge-key",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // One by one: a file missing now must not leave the others out.
      await Promise.all(KEPT.map((url) => cache.add(url).catch(() => undefined)));
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("podium-scan-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

function kept(url) {
  // Everything under /static/ too: a module the shared ones import later is kept as well.
  return KEPT.includes(url.pathname) || url.pathname.startsWith("/static/");
}

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), NETWORK_WAIT_MS)),
    ]);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const copy = await cache.match(key);
    if (copy) return copy;
    throw err;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const copy = await cache.match(request);
  if (copy) return copy;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !kept(url)) return;
  if (url.pathname.startsWith("/static/vendor/")) {
    event.respondWith(cacheFirst(request));
    return;
  }
  // The page is kept under /scan whatever its query (the token is in the fragment,
  // which never reaches here).
  const key = url.pathname === "/scan" ? "/scan" : request;
  event.respondWith(networkFirst(request, key));
});
