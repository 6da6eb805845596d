"""Small helpers shared by the case modules."""

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Iterable, List


def show(df: Any, n: int = 20, truncate: Any = True, vertical: bool = False) -> str:
    """Exactly what `df.show(...)` prints, minus the final newline print() adds."""
    return df._show_string(n, truncate, vertical)


def html(df: Any, n: int = 20, truncate: int = 20) -> str:
    """The HTML table a notebook shows (`_repr_html_` with eager evaluation on)."""
    from pyspark.sql.connect import plan
    from pyspark.sql.connect.dataframe import DataFrame

    table, _ = DataFrame(
        plan.HtmlString(child=df._plan, num_rows=n, truncate=truncate),
        session=df._session,
    )._to_table()
    return table[0][0].as_py()


def stdout_of(fn: Any) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    return buf.getvalue()


def write(tmp: Path, name: str, text: str) -> str:
    """Write `text` to `tmp/name` (creating folders) and return the path as a string."""
    path = Path(tmp) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def lines(*rows: str) -> str:
    return "".join(r + "\n" for r in rows)


def listing(path: Any) -> List[str]:
    """Sorted names under `path` (recursively, relative, '/'-separated) that hold data:
    files and folders whose names start with '_' or '.' (markers, checksums) are left out."""
    root = Path(path)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        rel = Path(dirpath).relative_to(root)
        for d in dirnames:
            out.append(str(rel / d).replace(os.sep, "/") + "/")
    return sorted(out)


def data_files(path: Any, suffix: str) -> int:
    """How many data files ending in `suffix` are under `path`."""
    return sum(
        1
        for dirpath, _, files in os.walk(path)
        for f in files
        if f.endswith(suffix) and not f.startswith(("_", "."))
    )


def sorted_rows(rows: Iterable[Any]) -> List[Any]:
    return sorted((list(r) for r in rows), key=repr)
