"""``python -m simsib``: the same as the ``simsib`` command."""

from simsib.cli.main import entry

if __name__ == "__main__":
    entry()
