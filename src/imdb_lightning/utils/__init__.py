"""Helpers every layer uses: errors and their exit codes, value checks, atomic files, the terminal."""
