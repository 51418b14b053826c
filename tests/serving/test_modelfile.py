"""Static model-file checks: syntax errors with file:line, a missing function named, dynamic bindings let through."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.errors import InvalidInput
from serving.platform.modelfile import check_model_file


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "model.py"
    f.write_text(text)
    return f


@pytest.mark.parametrize("source", [
    "def predict(args):\n    return 1\n",
    "async def predict(args):\n    return 1\n",
    "import joblib\npredict = joblib.load('m').predict\n",
    "predict: object = None\n",
    "from mypkg.serving import predict\n",
    "from mypkg import serve as predict\n",
    "import predict\n",
    "class predict:\n    pass\n",
    "try:\n    from fast import predict\nexcept ImportError:\n    def predict(a):\n        return 0\n",
    "if True:\n    def predict(a):\n        return 0\nelse:\n    pass\n",
    "with open('x') as predict:\n    pass\n",
    "for predict in []:\n    pass\n",
    "predict, other = (lambda a: a), 1\n",
    # the parser cannot tell: left to the replica
    "from helpers import *\n",
    "(predict := (lambda a: a))\n",
    "globals()['predict'] = lambda a: a\n",
    "import sys\nsetattr(sys.modules[__name__], 'predict', len)\n",
    "exec('def predict(a): return a')\n",
    "def __getattr__(name):\n    return len\n",
])
def test_bindings_of_the_function_are_accepted(tmp_path: Path, source: str) -> None:
    check_model_file(write(tmp_path, source), "predict", "model.py")


@pytest.mark.parametrize(("source", "message"), [
    ("def predikt(args):\n    return 1\n\ndef helper():\n    pass\n",
     "model.py defines no function 'predict' (functions: helper, predikt)"),
    ("x = 1\n", "model.py defines no function 'predict'"),
    ("def outer():\n    def predict(a):\n        return 1\n",
     "model.py defines no function 'predict' (functions: outer)"),
    ("class Model:\n    def predict(self, a):\n        return 1\n", "model.py defines no function 'predict'"),
])
def test_a_missing_function_is_named(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_model_file(write(tmp_path, source), "predict", "model.py")
    assert str(excinfo.value) == message


def test_a_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^models/model\.py:3: "):
        check_model_file(write(tmp_path, "import os\n\ndef predict(args)\n    return 1\n"), "predict",
                         "models/model.py")


@pytest.mark.parametrize("source", [b"x = 1\x00\n", b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n",
                                    b"x = " + b"-" * 200_000 + b"1\n"])
def test_what_the_parser_cannot_take_is_a_clear_error(tmp_path: Path, source: bytes) -> None:
    f = tmp_path / "model.py"
    f.write_bytes(source)
    with pytest.raises(InvalidInput, match=r"^model\.py(:\d+)?: "):
        check_model_file(f, "predict", "model.py")


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot read model file model\.py"):
        check_model_file(tmp_path / "absent.py", "predict", "model.py")
