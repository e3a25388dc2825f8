"""`esqa serve`: the web page and JSON API over a loaded index.

`esqa.web.app.create_app(qa)` makes the ASGI application, `esqa.web.server.serve`
runs it with uvicorn. Needs the `web` extra: `pip install 'esqa[web]'`.
"""
