"""Take the README's screenshots of `esqa serve`: the answer page and the article view.

    HF_HUB_OFFLINE=1 .venv/bin/python docs/screenshots.py

Starts `esqa serve` on the default index (`indexes/default`, built from
`seeds/` if missing) and drives Debian's headless chromium as the browser
test does (`apt-get install chromium chromium-driver`), writing
`docs/serve-answer.png` and `docs/serve-article.png`.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tests"))

from helpers.web import browser_missing, chromium, esqa_serve  # noqa: E402

QUESTION = "what is ESPA's fourth pillar"


def main() -> None:
    why = browser_missing()
    if why:
        raise SystemExit(f"screenshots: {why}")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with esqa_serve(fake=False) as server:
        driver = chromium(width=1280, height=1000)
        try:
            driver.get(server.url)
            driver.find_element(By.ID, "q").send_keys(QUESTION, Keys.ENTER)
            WebDriverWait(driver, 60).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "#answer p.answer")
            )
            driver.execute_script("document.activeElement.blur()")
            driver.save_screenshot(str(DOCS / "serve-answer.png"))
            driver.find_element(By.CSS_SELECTOR, "#c1 a.cite").click()
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "quote"))
            driver.save_screenshot(str(DOCS / "serve-article.png"))
        finally:
            driver.quit()
    print(f"wrote {DOCS / 'serve-answer.png'} and {DOCS / 'serve-article.png'}")


if __name__ == "__main__":
    main()
