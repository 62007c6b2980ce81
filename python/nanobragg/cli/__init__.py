"""The ``nanoBragg`` command line.

:mod:`.flags` is the public face of the command-line reader (the table of flags, the two
parses, Config <-> argv; the work is done in :mod:`.cnumbers`, :mod:`.record`,
:mod:`.table`, :mod:`.headers`, :mod:`.legacy`, :mod:`.strict`, :mod:`.mapping` and
:mod:`.command`), :mod:`.usage` the help text, :mod:`.main` the command.
"""
