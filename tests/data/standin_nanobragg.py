"""A stand-in for an external nanoBragg program, for the tests of ``nb-compare --a exe:PATH``.

It is not the original program: it runs this package's own ``nanoBragg`` command
(:func:`nanobragg.cli.main.run`) on its arguments, so its float image is the C engine's,
then misbehaves as the environment variable ``NB_STANDIN_MODE`` asks:

``ok`` (the default)  nothing more
``fail``              exits with status 7 and a message on standard error, rendering nothing
``nofloat``           removes its float image
``short``             drops the last pixel of its float image
``scale``             doubles every pixel of its float image

With ``NB_STANDIN_RECORD=PATH`` it first writes its working folder and its arguments to
PATH as JSON.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from nanobragg.cli.main import run


def main(argv: list[str]) -> int:
    record = os.environ.get("NB_STANDIN_RECORD")
    if record:
        with open(record, "w") as stream:
            json.dump({"cwd": os.getcwd(), "argv": argv}, stream)
    mode = os.environ.get("NB_STANDIN_MODE", "ok")
    if mode == "fail":
        sys.stderr.write("standin: failing on purpose\n")
        return 7
    status = run(argv)
    floatfile = argv[argv.index("-floatfile") + 1]
    if mode == "nofloat":
        os.remove(floatfile)
    elif mode == "short":
        np.fromfile(floatfile, dtype="<f4")[:-1].tofile(floatfile)
    elif mode == "scale":
        (2 * np.fromfile(floatfile, dtype="<f4")).tofile(floatfile)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
