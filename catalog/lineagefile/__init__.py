"""Lineage files (``lineage.yml`` / ``lineage.yaml``): CML's format for linking models to their training data.

The format (Cloudera CML, "Registering training data lineage using a linking file"), YAML or JSON::

    "Model Name":                                  # a CML model name
      hive_table_qualified_names:                  # Hive tables the model was trained on
        - "default.telco_churn@cm"                 #   Atlas qualifiedName db.table@namespace
      metadata:                                    # free-form key -> string
        query: "select * from historical_data"
        training_file: "4_train_models.py"
      s3_sources:                                  # mlcatalog extension: S3 data read directly
        - "s3a://my-bucket/churn/raw/"

The top level may also be a list of such mappings (``yaml.dump([{name: {...}}])``, as Cloudera's AMPs write it).

Rules beyond CML's documentation, chosen so that what CML would accept means the same here:

* Every key of a model is optional; ``Model:`` with no value or ``{}`` is a model without lineage, and a key with no
  value (e.g. all its entries commented out) is empty.
* Metadata values are strings, as CML stores them. Unquoted numbers, booleans and dates are accepted and kept exactly
  as written: ``epochs: 10`` gives ``"10"``, ``enabled: yes`` gives ``"yes"``, ``ratio: 1.50`` gives ``"1.50"``.
  No value (null), lists and mappings are errors.
* Keys (model names, metadata keys) must be strings: ``2024:`` or ``yes:`` are errors, quote them.
* Qualified names are ``[A-Za-z0-9_]+.[A-Za-z0-9_]+@[A-Za-z0-9_.-]+``; db and table are lower-cased as Atlas does,
  so ``Default.WineDS@cm`` and ``default.wineds@cm`` are the same (and listing both is a duplicate).
* S3 URIs: ``s3://`` or ``s3a://``, a bucket valid under AWS's current naming rules, a key without whitespace,
  wildcards or the characters AWS says to avoid.
* Duplicate keys, model names (across list items too), tables and S3 sources are errors. Unknown keys are errors.
* Refused outright: files over 1 MiB, non-UTF-8, control characters, YAML anchors/aliases, tags other than YAML's
  standard ones, more than one document, nesting deeper than 16 levels. Problems are reported as
  ``path:line:column: message``, all of a file's at once where the YAML itself could be read.
* A file whose name ends in ``.json`` is strict JSON (RFC 8259), not YAML: comments, trailing commas, single
  quotes, NaN/Infinity, ``True``/``None``, malformed numbers and unquoted text are problems, each reported and then
  read as meant so that one run lists them all (see :mod:`catalog.lineagefile.jsonnodes`). Otherwise the rules and
  limits are the YAML ones, and a valid file gives the same models. ``lineage.yml`` itself may hold JSON (CML's
  demo does), read as YAML.
"""

from catalog.lineagefile.files import LINEAGE_FILE_NAMES, find_lineage_file, lint_paths, load_lineage_file
from catalog.lineagefile.models import LineageFile, ModelLineage
from catalog.lineagefile.parser import (
    HIVE_TABLES_KEY,
    MAX_FILE_BYTES,
    METADATA_KEY,
    MODEL_KEYS,
    S3_SOURCES_KEY,
    parse_lineage,
    syntax_of,
)
from catalog.lineagefile.problems import LineageFileError, Problem
from catalog.lineagefile.refs import HiveTableRef, S3Ref
from catalog.lineagefile.schema import lineage_json_schema

__all__ = [
    "HIVE_TABLES_KEY",
    "LINEAGE_FILE_NAMES",
    "MAX_FILE_BYTES",
    "METADATA_KEY",
    "MODEL_KEYS",
    "S3_SOURCES_KEY",
    "HiveTableRef",
    "LineageFile",
    "LineageFileError",
    "ModelLineage",
    "Problem",
    "S3Ref",
    "find_lineage_file",
    "lineage_json_schema",
    "lint_paths",
    "load_lineage_file",
    "parse_lineage",
    "syntax_of",
]
