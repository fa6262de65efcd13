"""``python -m imdb_lightning.report``: the command of :mod:`imdb_lightning.results.report`."""

from imdb_lightning.results.report import main

if __name__ == "__main__":
    main()
