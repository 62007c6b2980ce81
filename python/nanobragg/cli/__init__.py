"""The ``nanoBragg`` command line.

:mod:`.flags` holds the table of flags and the parsers, :mod:`.usage` the help text.
"""
