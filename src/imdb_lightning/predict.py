"""``python -m imdb_lightning.predict``: the command of :mod:`imdb_lightning.results.predict`."""

from imdb_lightning.results.predict import main

if __name__ == "__main__":
    main()
