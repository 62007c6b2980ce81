"""The commands: ``nanoBragg`` (:mod:`.main`, with its log in :mod:`.report`, the
``-printout`` block in :mod:`.printout` and the ``-h`` text in :mod:`.usage`) and
``nb-compare`` (:mod:`.compare`).

The flag language they read is :mod:`nanobragg.flags`; what they raise on a bad command
line is in :mod:`nanobragg.errors`.
"""
