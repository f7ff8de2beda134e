// The page's guard: it closes, before any other module of the page runs
// (main.js imports it first), the ways out that the Content-Security-Policy
// cannot close. Chromium's CSP does not stop:
//   - a navigation to another origin (`location = ...`, a link, a meta
//     refresh): with a 204 answer the page even stays as it was;
//   - a popup (`window.open`, a link with a target);
//   - WebRTC (ICE sends STUN packets to any host; Chromium ignores a `webrtc`
//     directive);
//   - a preconnect or dns-prefetch hint (only `webml verify` sees those).
// What the guard refuses it names on the console ("webml guard: blocked ..."),
// which `webml verify` reads. It cannot stop a script that runs before it (a
// classic <script> in the page's head) or reach a frame's window it was never
// handed (`window[0]`); verify watches for those. docs/hosting.md says what a
// page cannot prevent.

const origin = location.origin;

/** What the guard refused, in order: {what, url}. */
export const blocked = [];

const guarded = new WeakSet();

function foreign(url) {
  try {
    return new URL(url, document.baseURI).origin !== origin;
  } catch {
    return true;
  }
}

function refuse(what, url) {
  blocked.push({ what, url: String(url) });
  console.error(`webml guard: blocked ${what} ${url}`);
}

// Not writable, not configurable: a later script can neither put the original
// back nor reach it through the property.
function lock(target, name, value) {
  Object.defineProperty(target, name, { value, writable: false, configurable: false, enumerable: false });
}

/** The link an activation of `element` would follow to another origin, if any. */
function foreignLink(element) {
  const link = element?.closest?.('a[href], area[href]');
  return link && foreign(link.href) ? link : null;
}

function guard(win) {
  if (guarded.has(win)) return;
  guarded.add(win);
  lock(win, 'open', function open(url = '') {
    refuse('window.open', url);
    return null;
  });
  const documentOpen = win.Document.prototype.open;
  // document.open(url, name, features) is window.open by another name.
  lock(win.Document.prototype, 'open', function open(...args) {
    if (args.length > 2) {
      refuse('window.open', args[0]);
      return null;
    }
    return documentOpen.apply(this, args);
  });
  // RTCPeerConnection, webkitRTCPeerConnection, RTCDataChannel, RTCIceTransport and kin.
  for (const name of Object.getOwnPropertyNames(win).filter((n) => /^(webkit)?RTC/.test(n))) {
    lock(win, name, function disabled() {
      refuse('WebRTC', name);
      throw new DOMException('WebRTC is disabled on this page', 'NotSupportedError');
    });
  }
  // Cancelable for every navigation a script or a link starts (not for the
  // browser's own back/forward to another document).
  win.navigation?.addEventListener('navigate', (event) => {
    if (!foreign(event.destination.url)) return;
    refuse('navigation', event.destination.url);
    if (event.cancelable) event.preventDefault();
  });
  // A link with a target opens a new window: no navigate event fires here.
  win.addEventListener('click', (event) => {
    const link = foreignLink(event.target);
    if (!link) return;
    refuse('link', link.href);
    event.preventDefault();
  }, true);
  // A link that is not in the document is followed too, with no event reaching the window.
  const click = win.HTMLElement.prototype.click;
  lock(win.HTMLElement.prototype, 'click', function clickUnlessAway() {
    const link = this.isConnected ? null : foreignLink(this);
    if (link) return refuse('link', link.href);
    return click.call(this);
  });
  const dispatch = win.EventTarget.prototype.dispatchEvent;
  lock(win.EventTarget.prototype, 'dispatchEvent', function dispatchUnlessAway(event) {
    const link = event?.type === 'click' && this.isConnected === false ? foreignLink(this) : null;
    if (link) {
      refuse('link', link.href);
      return false;
    }
    return dispatch.call(this, event);
  });
  // A same-origin frame (about:blank) is a fresh window with its own
  // originals: guard it when a script reaches for it through its element.
  for (const property of ['contentWindow', 'contentDocument']) {
    const { get } = Object.getOwnPropertyDescriptor(win.HTMLIFrameElement.prototype, property);
    Object.defineProperty(win.HTMLIFrameElement.prototype, property, {
      configurable: false,
      enumerable: true,
      get() {
        const value = get.call(this);
        const child = property === 'contentWindow' ? value : value?.defaultView;
        try {
          if (child) guard(child);
        } catch {
          // another origin's frame: the CSP keeps those out, and its window is not ours to change
        }
        return value;
      },
    });
  }
}

guard(window);
