"""Full-page screenshots of every demo shop page at desktop and phone widths, to look at.

Starts ``unico demo`` on a fresh SQLite file and a free port, opens the address it prints
(``Demo shop: http://…/demo?key=wk_…``) in Debian's Chromium, waits until every
personalized slot is filled and every picture has loaded, and writes one PNG per page and
width (plus the first screen of the home page, what a visitor sees before scrolling):

    .venv/bin/python bench/demo_screenshots.py                 # into /tmp/demo-shots/
    .venv/bin/python bench/demo_screenshots.py --out /tmp/shots

The pages are seen as a first-time visitor sees them: consent banner up, a cart of two items.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

UNICO = str(Path(sys.executable).parent / "unico")
CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
#: name -> (path, needs the key). The key page is what a visitor without the key sees.
PAGES = {
    "home": ("/demo", True),
    "category": ("/demo/category/running", True),
    "product": ("/demo/product/hik-02", True),
    "cart": ("/demo/cart", True),
    "missing": ("/demo/product/zzz-99", True),
    "key": ("/demo", False),
}
CART = "run-01,swi-03"
FILLED = """() => [...document.querySelectorAll('[data-unico-placement]')].every(
  b => b.hasAttribute('data-unico-decision') || b.hasAttribute('data-unico-error'))"""
# A full-page picture needs the lazy pictures below the fold too.
LOADED = """() => [...document.images].every(i => { i.loading = 'eager'; return i.complete; })"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_demo(database: str, port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``unico demo`` and return the process and the demo address it prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNICO_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [UNICO, "demo", "--port", str(port), "--database", database],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"Demo shop: (\S+)", log.read_text())
        if found:
            return process, found.group(1)
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"unico demo printed no address:\n{log.read_text()}")


def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{base} did not answer within 30 s")


def settle(page: Page) -> None:
    page.wait_for_function(FILLED, timeout=15_000)
    page.wait_for_function(LOADED, timeout=15_000)


def shoot(page: Page, url: str, out: Path) -> None:
    response = page.goto(url)
    if response is None or response.status >= 500:
        raise SystemExit(f"{url}: {response.status if response else 'no answer'}")
    settle(page)
    page.screenshot(path=str(out), full_page=True)
    print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/demo-shots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "demo.log"
        process, address = start_demo(f"sqlite:///{tmp}/demo.db", free_port(), log)
        try:
            base, key = address.split("/demo?key=")
            wait_until_up(base)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
                )
                for width, (w, h) in WIDTHS.items():
                    ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB")
                    ctx.add_cookies([{"name": "unico_demo_cart", "value": CART, "url": base}])
                    page = ctx.new_page()
                    for name, (path, with_key) in PAGES.items():
                        url = f"{base}{path}?key={key}" if with_key else f"{base}{path}"
                        if not with_key:
                            ctx.clear_cookies(name="unico_demo_key")
                        shoot(page, url, args.out / f"{name}-{width}.png")
                    page.goto(address)
                    settle(page)
                    first = args.out / f"home-{width}-first-screen.png"
                    page.screenshot(path=str(first))
                    print(first)
                    ctx.close()
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
