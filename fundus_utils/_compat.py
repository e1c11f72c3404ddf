"""Import-order workarounds, in one place. ``fundus_utils/__init__.py`` imports this module first,
so every submodule (and every notebook that imports ``fundus_utils`` before ``paddle``) gets them.

* **zlib.** The Paddle 2.6 wheel bundles an older zlib and exports its symbols. When Paddle loads
  first, a later ``import pandas`` or PNG save segfaults in ``inflateReset2``/``deflateReset``.
  Loading Python's ``zlib`` (the system libz) first avoids that. Paddle 3.x is not affected.
* **numpy.random.** With Paddle 2.6 and NumPy 2, importing ``numpy.random`` after ``paddle``
  fails; importing it first works.
* **Paddle's C++ log lines.** Paddle's glog prints ``I1201 ... pir_interpreter.cc ...] New
  Executor is Running`` among a script's or ``predict``'s results. ``GLOG_minloglevel=2`` (set
  only if the user has not set it) keeps errors and drops those info and warning lines.
* **ccache warning.** Paddle 3 warns on import that ccache is missing. It matters only when
  compiling C++ extensions, which the course never does, and it would put a machine-specific
  path into every notebook.
"""

import os
import warnings
import zlib  # noqa: F401  (imported for its side effect: see above)

import numpy.random  # noqa: F401  (imported for its side effect: see above)

os.environ.setdefault("GLOG_minloglevel", "2")  # read when Paddle's C++ library loads
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
