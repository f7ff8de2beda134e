// Service worker: the site keeps working offline after the first visit, and
// gets its headers on hosts that cannot send them (GitHub Pages): cross-origin
// isolation (WebAssembly threads) and the Content-Security-Policy. The page
// carries its CSP in a <meta> tag, but a worker loaded from a URL takes its
// CSP from its own response only: without this, the inference worker would
// run with none and could fetch any origin.
//
// Runtime and model files live under version- and content-named paths
// (vendor/, model/): served from the cache first. The page, its scripts and
// the manifest: from the network first, from the cache when offline.
// It only ever fetches this site's own files.

const SHELL = []; // the page's files, filled in by `webml build`
const VERSION = 'dev'; // a hash of them, filled in by `webml build`
const SHELL_CACHE = `webml-shell-${VERSION}`;
const FILES_CACHE = 'webml-files';
const HEADERS = {}; // webapp/headers.py's SITE_HEADERS, filled in by `webml build`
const CSP = 'Content-Security-Policy';

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

// Each site header the host did not send is added. A CSP the host sent is kept
// and the site's is added beside it: a browser enforces both, so the result is
// never looser than the site's own.
function withSiteHeaders(response) {
  if (response.type === 'opaque') return response;
  const headers = new Headers(response.headers);
  let changed = false;
  for (const [name, value] of Object.entries(HEADERS)) {
    const sent = headers.get(name);
    if (sent === null) headers.set(name, value);
    else if (name === CSP && !sent.split(',').map((p) => p.trim()).includes(value)) headers.append(name, value);
    else continue;
    changed = true;
  }
  if (!changed) return response;
  // The body read here is already decoded: a new response must not claim the
  // host's gzip or its compressed length.
  headers.delete('Content-Encoding');
  headers.delete('Content-Length');
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
  event.respondWith(answer.then(withSiteHeaders));
});
