"""Drivers for the engines Playwright cannot drive here: Firefox (WebDriver BiDi) and WebKit.

Each gives verify and bench a browser, contexts and pages with the part of
Playwright's sync API they use (webapp/drivers/page.py), so their checks run
unchanged in every engine.
"""
