"""The live view (``simsib app``): a local web page whose controls re-price the run as they move.

:mod:`~simsib.app.controls` chooses the controls a scenario offers, :mod:`~simsib.app.live` keeps
the simulated paths and settles each change on them (or simulates afresh when the change reaches
the model), with :mod:`~simsib.app.chunks` sharing the chunks with a worker process,
:mod:`~simsib.app.view` turns the numbers into what the page shows, and
:mod:`~simsib.app.server` serves the page (``static/``) with Starlette and uvicorn, the optional
``[app]`` extra.

May import :mod:`simsib.report` and everything below it; never prints (the CLI does).
"""
