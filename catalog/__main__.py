"""``python -m catalog`` = the ``mlcatalog`` command."""

from catalog.cli import app

if __name__ == "__main__":
    app(prog_name="mlcatalog")
