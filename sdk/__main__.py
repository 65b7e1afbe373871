"""``python -m trainwire``: the same as the ``trainwire`` command."""

from __future__ import annotations

from trainwire.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
