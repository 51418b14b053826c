"""``python -m mlcatalog`` = the ``mlcatalog`` command."""

from mlcatalog.cli import app

if __name__ == "__main__":
    app(prog_name="mlcatalog")
