"""mlcatalog: an ML model catalog and monitoring service on Apache Atlas.

This package is the composition root: it reads the settings (:mod:`mlcatalog.settings`), assembles the process
(:mod:`mlcatalog.app`) and is the ``mlcatalog`` command (:mod:`mlcatalog.cli`). It is the only package that knows
both the catalog (``catalog``) and the serving platform (``serving``).
"""
