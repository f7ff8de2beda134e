"""The HTTP headers a webml site needs, shared by `serve` and the host config files.

Cross-origin isolation (COOP + COEP) lets WebAssembly use threads: without it
onnxruntime-web silently drops to one thread (MobileNetV2: 47 ms instead of 19 ms).
"""

from __future__ import annotations

# No other origin, ever: the visitor's input and the model stay on this site.
# 'wasm-unsafe-eval' lets WebAssembly compile; nothing allows eval() or inline script.
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
)
# frame-ancestors is ignored in a <meta> CSP, so it is sent only as a header.
CONTENT_SECURITY_POLICY = "; ".join((*CSP_DIRECTIVES, "frame-ancestors 'none'"))
META_CONTENT_SECURITY_POLICY = "; ".join(CSP_DIRECTIVES)

SITE_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# Types that Python's mimetypes gets wrong or lacks on some systems; a wasm file
# served as anything else fails with "expected magic word 00 61 73 6d" or refuses
# streaming compilation.
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".onnx": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
}


def netlify_headers() -> str:
    """A ``_headers`` file (Netlify, Cloudflare Pages) that sends :data:`SITE_HEADERS`."""
    lines = ["/*"] + [f"  {name}: {value}" for name, value in SITE_HEADERS.items()]
    return "\n".join(lines) + "\n"
