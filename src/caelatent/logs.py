"""Logging set-up shared by the workflow's scripts."""

from __future__ import annotations

import logging
import sys


def log_to(path: str | None, level: int = logging.INFO) -> None:
    """Send logging and uncaught exceptions to ``path`` (Snakemake's ``log:``) and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)
    logging.captureWarnings(True)

    def excepthook(etype, value, tb):
        logging.getLogger("caelatent").critical("%s: %s", etype.__name__, value, exc_info=(etype, value, tb))

    sys.excepthook = excepthook
