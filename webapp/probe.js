// webml verify's probe: an init script, run in every frame before any script
// of the page, the page's guard included. It reports, on the console as
// `webml-audit {"kind", "url"}` lines that verify reads, what the site's
// CSP cannot block and no request shows:
//   - navigations to another origin (a 204 answer leaves the page unchanged);
//   - popups (window.open);
//   - WebRTC (ICE would send STUN packets, which no route sees: refused here);
//   - preconnect, dns-prefetch and other resource hints to another origin.
// It keeps its own references, so the page cannot silence it.
(() => {
  const say = console.debug.bind(console);
  const stringify = JSON.stringify;
  const report = (kind, url) => say(`webml-audit ${stringify({ kind, url: String(url) })}`);
  const foreign = (url) => {
    try {
      return new URL(url, document.baseURI).origin !== self.origin;
    } catch {
      return true;
    }
  };

  for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection']) {
    const original = window[name];
    if (typeof original !== 'function') continue;
    window[name] = new Proxy(original, {
      construct(_target, args) {
        const servers = (args[0]?.iceServers || []).flatMap((s) => [s.urls].flat());
        report('webrtc', `${name}(${servers.join(' ') || 'no ICE servers'})`);
        throw new DOMException('WebRTC is refused while webml verify watches', 'NotSupportedError');
      },
    });
  }

  const open = window.open;
  window.open = function open_(url = '', ...rest) {
    let href = String(url) || 'about:blank';
    try {
      href = new URL(href, document.baseURI).href;
    } catch {
      // reported as written
    }
    report('window.open', href);
    return open.call(this, url, ...rest);
  };

  window.navigation?.addEventListener('navigate', (event) => {
    if (foreign(event.destination.url)) report('navigation', event.destination.url);
  });

  const HINTS = /\b(preconnect|dns-prefetch|prefetch|prerender|preload|modulepreload|next)\b/i;
  const seen = new WeakMap();
  const inspect = (node) => {
    if (!(node instanceof HTMLLinkElement) || !node.href || !HINTS.test(node.rel)) return;
    const key = `${node.rel} ${node.href}`;
    if (seen.get(node) === key || !foreign(node.href)) return;
    seen.set(node, key);
    report(node.rel.toLowerCase().match(HINTS)[1], node.href);
  };
  new MutationObserver((records) => {
    for (const record of records) {
      inspect(record.target);
      for (const node of record.addedNodes) {
        inspect(node);
        if (node.querySelectorAll) node.querySelectorAll('link').forEach(inspect);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['rel', 'href'] });
})();
