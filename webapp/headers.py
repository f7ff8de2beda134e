"""The HTTP headers a webml site needs, shared by `serve` and the host config files.

Cross-origin isolation (COOP + COEP) lets WebAssembly use threads: without it
onnxruntime-web silently drops to one thread (MobileNetV2: 47 ms instead of 19 ms).
"""

from __future__ import annotations

from pathlib import Path

from converter.errors import BuildError

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

# `build --isolation`: how a site gets cross-origin isolation. "coop": COOP + COEP
# (every browser with threads). "dip": Document-Isolation-Policy instead (Chromium
# 137+), for apps whose OAuth or payment popups COOP same-origin breaks; elsewhere
# WebAssembly runs on one thread (docs/hosting.md). The site's choice is its
# _headers file's /* rule, which serve reads back (isolation_of).
ISOLATIONS = ("coop", "dip")
DIP_HEADER = "Document-Isolation-Policy"
DIP_VALUE = "isolate-and-require-corp"
HEADERS_FILE = "_headers"


def site_headers(isolation: str = "coop") -> dict[str, str]:
    """The headers every response of a site with ``isolation`` (one of ISOLATIONS) carries."""
    if isolation == "coop":
        return dict(SITE_HEADERS)
    if isolation != "dip":
        raise BuildError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {isolation!r}",
                         "choose coop (the default) or dip")
    plain = {k: v for k, v in SITE_HEADERS.items()
             if k not in ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy")}
    return {DIP_HEADER: DIP_VALUE, **plain}


def isolation_of(site: Path) -> str:
    """The isolation a built site chose: "dip" when its _headers sends Document-Isolation-Policy."""
    path = site / HEADERS_FILE
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return "dip" if f"  {DIP_HEADER}: " in text else "coop"

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


# What a host should compress, as static hosts compress text: the page, its
# scripts, the runtimes' JavaScript and wasm (onnxruntime-web's 26.8 MB
# asyncify wasm gzips to 6.7 MB), the manifest. Model weights (.onnx, .bin, .tflite) are left
# as they are: float weights gain a few percent for the CPU it costs.
COMPRESSED_TYPES = ("text/html", "text/css", "text/javascript", "application/json",
                    "application/wasm")
COMPRESS_MIN_BYTES = 1024  # gzip's header and a round trip outweigh smaller savings

# Runtime files carry their version in the path and model files their content
# hash, so they never change under a URL: caches may keep them for ever. The
# page, its scripts and the manifest are revalidated on every visit.
IMMUTABLE_PREFIXES = ("/vendor/", "/model/")
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"


def cache_control(path: str) -> str:
    """The Cache-Control value for a URL path of a site."""
    return CACHE_IMMUTABLE if path.startswith(IMMUTABLE_PREFIXES) else CACHE_REVALIDATE


# The paths whose content changes between builds at the same URL.
# A site of several models: its catalogue (which `promote` changes) and each version's manifest.
REVALIDATED_PATHS = ("/", "/index.html", "/webml.json", "/sw.js", "/js/*", "/css/*",
                     "/models.json", "/models/*")


def netlify_headers(isolation: str = "coop") -> str:
    """A ``_headers`` file (Netlify, Cloudflare Pages): the site headers and caching.

    Matching rules are merged, so Cache-Control is set per path, never twice.
    """
    lines = ["/*"] + [f"  {name}: {value}" for name, value in site_headers(isolation).items()]
    for prefix in IMMUTABLE_PREFIXES:
        lines += [f"{prefix}*", f"  Cache-Control: {CACHE_IMMUTABLE}"]
    for path in REVALIDATED_PATHS:
        lines += [path, f"  Cache-Control: {CACHE_REVALIDATE}"]
    return "\n".join(lines) + "\n"


def nginx_snippet(isolation: str = "coop") -> str:
    """An nginx ``server`` block fragment that serves a site with its headers.

    Tested against Debian's nginx (tests/browser/test_nginx.py). Each location
    carries its own ``types``: Debian's 1.22 mime.types lacks ``.mjs`` (served
    as text/plain, which nosniff makes a module refuse), and a ``types`` block
    replaces the inherited map rather than adding to it. Each also turns on
    gzip for :data:`COMPRESSED_TYPES`: nginx's default compresses only HTML.
    """
    add = "".join(f'    add_header {name} "{value}" always;\n'
                  for name, value in site_headers(isolation).items())
    by_type: dict[str, list[str]] = {}
    for extension, value in MIME_TYPES.items():
        by_type.setdefault(value.partition(";")[0], []).append(extension.lstrip("."))
    types = ("    types {\n"
             + "".join(f"        {kind} {' '.join(exts)};\n" for kind, exts in by_type.items())
             + "    }\n    default_type application/octet-stream;\n    charset utf-8;\n")
    # nginx compresses only text/html unless told; gzip_vary keeps caches apart.
    gzip = ("    gzip on;\n    gzip_vary on;\n"
            f"    gzip_min_length {COMPRESS_MIN_BYTES};\n"
            f"    gzip_types {' '.join(t for t in COMPRESSED_TYPES if t != 'text/html')};\n")
    immutable = "|".join(p.strip("/") for p in IMMUTABLE_PREFIXES)
    return (
        "# webml site: include inside a server { } block, with root set to the site folder.\n"
        "location / {\n"
        f"{types}{gzip}{add}"
        f'    add_header Cache-Control "{CACHE_REVALIDATE}" always;\n'
        "    index index.html;\n"
        "    try_files $uri $uri/ =404;\n"
        "}\n"
        f"location ~ ^/({immutable})/ {{\n"
        f"{types}{gzip}{add}"
        f'    add_header Cache-Control "{CACHE_IMMUTABLE}" always;\n'
        "    try_files $uri =404;\n"
        "}\n")
