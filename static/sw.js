// Service worker: the site keeps working offline after the first visit, and
// gets cross-origin isolation (WebAssembly threads) on hosts that cannot send
// the COOP/COEP headers themselves (GitHub Pages).
//
// Runtime and model files live under version- and content-named paths
// (vendor/, model/): served from the cache first. The page, its scripts and
// the manifest: from the network first, from the cache when offline.
// It only ever fetches this site's own files.

const SHELL = []; // the page's files, filled in by `webml build`
const VERSION = 'dev'; // a hash of them, filled in by `webml build`
const SHELL_CACHE = `webml-shell-${VERSION}`;
const FILES_CACHE = 'webml-files';
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('webml-shell-') && key !== SHELL_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

function isolated(response) {
  if (response.type === 'opaque' || Object.keys(ISOLATION).every((h) => response.headers.has(h))) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) if (!headers.has(name)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function cacheFirst(request) {
  const cache = await caches.open(FILES_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !new URL(request.url).search) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  const answer = /^(vendor|model)\//.test(path) ? cacheFirst(event.request) : networkFirst(event.request);
  event.respondWith(answer.then(isolated));
});
