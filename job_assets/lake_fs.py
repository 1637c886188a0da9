"""File listing through Hadoop's FileSystem: the same code lists a local folder and an S3 prefix."""

from __future__ import annotations

from typing import List, NamedTuple

from pyspark.sql import SparkSession

from .spark import import_jvm_classes


class FileInfo(NamedTuple):
    uri: str
    rel: str  # path relative to the listed root, '/'-separated
    size: int
    mtime_ms: int


def _qualified(uri: str) -> str:
    return uri if "://" in uri or uri.startswith("file:") else f"file://{uri}"


def list_files(spark: SparkSession, root: str) -> List[FileInfo]:
    """Every file under ``root`` (recursively), skipping names that start with '_' or '.'."""
    import_jvm_classes(spark)  # jvm.Path
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    path = jvm.Path(_qualified(root))
    fs = path.getFileSystem(conf)
    if not fs.exists(path):
        return []
    base = fs.makeQualified(path).toString().rstrip("/")
    it = fs.listFiles(path, True)
    out = []
    while it.hasNext():
        st = it.next()
        full = st.getPath().toString()
        rel = full[len(base) :].lstrip("/")
        if any(part.startswith(("_", ".")) for part in rel.split("/")):
            continue
        out.append(FileInfo(full, rel, int(st.getLen()), int(st.getModificationTime())))
    return sorted(out, key=lambda f: f.rel)
