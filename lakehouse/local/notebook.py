"""The analyst notebooks' helpers (``notebooks/*.ipynb``): find the lake, read Delta tables with delta-rs (no
Spark), render charts as inline PNG, publish checked results; and the runner that executes the notebooks
(``make notebooks``, ``tests/functional/test_notebooks.py``).

Which lake a notebook reads (the first setting that is present wins):

- ``LAKEHOUSE_BRONZE_URI`` / ``LAKEHOUSE_SILVER_URI`` / ``LAKEHOUSE_GOLD_URI``: one URI per layer, as the jobs
  get them on AWS (one bucket per layer; the gold URI is the published slot's folder, ``s3://<gold>/blue``).
  A layer left out falls back to the settings below.
- ``LAKEHOUSE_LAKE_URI``: every layer under one root (``s3://bucket/lake`` -> ``.../bronze``, ...,
  ``.../gold/<slot>``); the slot is ``LAKEHOUSE_GOLD_SLOT`` (default ``blue``).
- ``LAKEHOUSE_LAKE_ROOT``: a local lake (default ``.lake``); gold is the published slot
  (``<root>/_control/slots.json``, or ``LAKEHOUSE_GOLD_SLOT``). A relative path is taken from the checkout
  (the nearest folder above the working directory holding ``pyproject.toml``), so a notebook opened in
  ``notebooks/`` finds the same ``.lake`` as ``make run``.

delta-rs reads S3 with the standard AWS settings (``AWS_PROFILE`` or ``AWS_ACCESS_KEY_ID`` / ``..._SECRET_...``
/ ``AWS_SESSION_TOKEN``, ``AWS_REGION``). Files a notebook exports go to ``LAKEHOUSE_NB_OUTPUT_DIR``, by default
``<root>/_exports`` for a local lake and ``build/notebooks/exports`` of the checkout for an S3 lake (``make
notebooks`` sets it: ``build/notebooks/exports``, next to the HTML). Every notebook shows the data-quality figures
of the tables it reads (:func:`show_dq`) and exports its results (:func:`export`).

Every :meth:`Lake.read` names its columns; with ``LAKEHOUSE_NB_READ_LOG`` set, each read is appended to that
file (JSON lines), which is how the test checks a notebook's ``metadata.lakehouse.reads`` (lineage) against
what it really reads. pandas (a ``dev`` dependency) is imported only by the functions that need it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_assets.context import SLOTS, LakeLocations, active_slot
from job_assets.contracts import REGISTRY
from job_assets.delta_read import DeltaReader
from job_assets.flags import FLAGS, flag, validate

READER = DeltaReader()
"""The notebooks' one read path (delta-rs reads S3 with the standard AWS settings, see above)."""
ENV_ROOT = "LAKEHOUSE_LAKE_ROOT"
ENV_URI = "LAKEHOUSE_LAKE_URI"
ENV_SLOT = "LAKEHOUSE_GOLD_SLOT"
ENV_OUTPUT = "LAKEHOUSE_NB_OUTPUT_DIR"
ENV_READ_LOG = "LAKEHOUSE_NB_READ_LOG"
ENV_ATTRIBUTION = "LAKEHOUSE_ATTRIBUTION_MODEL"
LAYER_ENVS = {layer: f"LAKEHOUSE_{layer.upper()}_URI" for layer in ("bronze", "silver", "gold")}
LAKE_ENVS = (ENV_ROOT, ENV_URI, ENV_SLOT, ENV_OUTPUT, ENV_READ_LOG, ENV_ATTRIBUTION, *LAYER_ENVS.values())
DEFAULT_ROOT = ".lake"
RESULT_KEY = "lakehouse_result"
NOTEBOOKS_DIR = "notebooks"


class NotebookError(RuntimeError):
    """A lake that is not there, a table or column no contract knows, a notebook that failed."""


def checkout_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (the working directory) holding ``pyproject.toml``."""
    start = (start or Path.cwd()).resolve()
    for d in (start, *start.parents):
        if (d / "pyproject.toml").is_file():
            return d
    return start


@dataclass(frozen=True)
class Lake:
    """Where each layer lives, the gold slot read, and where exports go."""

    locations: LakeLocations
    gold_slot: str
    output_dir: Path
    local_root: Path | None = None

    def uri(self, table: str) -> str:
        """Where ``table`` lives in this lake.

        Raises:
            NotebookError: ``table`` is not a table of the contracts (the message lists them).
        """
        if table not in REGISTRY:
            raise NotebookError(f"unknown table {table!r}; known tables: {', '.join(sorted(REGISTRY))}")
        return self.locations.table_uri(table)

    def exists(self, table: str) -> bool:
        """Whether ``table`` has been written in this lake."""
        return READER.exists(self.uri(table))

    def read(self, table: str, columns: Sequence[str], *, missing_ok: bool = False) -> Any:
        """``columns`` of ``table`` as a pandas DataFrame: decimals as float64 (money: compare rounded to cents),
        dates as datetime64. ``missing_ok``: an empty frame when the table does not exist yet."""
        import pandas as pd
        import pyarrow as pa

        uri = self.uri(table)
        known = REGISTRY[table].column_names
        unknown = [c for c in columns if c not in known]
        if unknown or not columns:
            raise NotebookError(f"{table}: columns {unknown or '(none)'} are not in its contract: {', '.join(known)}")
        _log_read(table, columns)
        delta = READER.open(uri)
        if delta is None:
            if missing_ok:
                return pd.DataFrame({c: [] for c in columns})
            raise NotebookError(f"{table} is not a Delta table at {uri}: has the pipeline run on this lake?")
        data = READER.arrow(delta, columns)
        cast = []
        for f in data.schema:
            if pa.types.is_decimal(f.type):
                cast.append(pa.field(f.name, pa.float64()))
            elif pa.types.is_date(f.type):
                cast.append(pa.field(f.name, pa.timestamp("ms")))
            else:
                cast.append(f)
        return data.cast(pa.schema(cast)).to_pandas()

    def describe(self) -> str:
        """The lake's layer locations, gold slot and export folder, one per line."""
        lines = [f"{layer:<7}{self.locations.layer(layer)}" for layer in ("bronze", "silver", "gold")]
        return "\n".join([*lines, f"gold slot {self.gold_slot}; exports to {self.output_dir}"])


def _log_read(table: str, columns: Sequence[str]) -> None:
    path = os.environ.get(ENV_READ_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"table": table, "columns": list(columns), "python": sys.executable}) + "\n")


def open_lake(env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Lake:
    """The lake the settings in ``env`` (default: the process environment) point at; see the module doc."""
    env = os.environ if env is None else env
    slot = env.get(ENV_SLOT) or None
    if slot is not None and slot not in SLOTS:
        raise NotebookError(f"{ENV_SLOT}={slot!r} is not one of {', '.join(SLOTS)}")
    base = checkout_dir(cwd)
    local_root: Path | None = None
    if env.get(ENV_URI):
        root = env[ENV_URI].rstrip("/")
        if slot is None:  # the published slot lives in SSM on AWS: never guess it
            raise NotebookError(
                f"{ENV_URI} is set: also set {ENV_SLOT} to the published gold slot "
                "(`lakehouse slots show --env <env>` names it)"
            )
    else:
        local_root = Path(env.get(ENV_ROOT) or DEFAULT_ROOT).expanduser()
        local_root = (local_root if local_root.is_absolute() else base / local_root).resolve()
        layer_envs_all_set = all(env.get(v) for v in LAYER_ENVS.values())
        if not layer_envs_all_set and not any((local_root / layer).is_dir() for layer in ("bronze", "silver")):
            raise NotebookError(
                f"no lake at {local_root}: run `make run` first, or set {ENV_ROOT} (local) or {ENV_URI} (S3)"
            )
        root = str(local_root)
        slot = slot or active_slot(root)
    loc = LakeLocations.for_root(root, gold_slot=slot)
    uris = {layer: loc.layer(layer) for layer in ("landing", "bronze", "silver", "gold")}
    for layer, var in LAYER_ENVS.items():
        if env.get(var):
            uris[layer] = env[var].rstrip("/")
            if layer == "gold" and not env.get(ENV_SLOT):
                tail = uris["gold"].rsplit("/", 1)[-1]
                slot = tail if tail in SLOTS else slot
    if not env.get(ENV_OUTPUT) and local_root is not None and "://" not in uris["silver"]:
        out = (local_root / "_exports").resolve()
    else:
        out = _default_output(env, base)
    return Lake(LakeLocations(**uris), str(slot), out, local_root)


def attribution_model(env: Mapping[str, str] | None = None) -> str:
    """The attribution model gold was built with: ``LAKEHOUSE_ATTRIBUTION_MODEL`` (the environment's
    ``job_flags.attribution_model``), else the flag's default (``last_touch``)."""
    env = os.environ if env is None else env
    chosen = {"attribution_model": env[ENV_ATTRIBUTION]} if env.get(ENV_ATTRIBUTION) else {}
    try:
        return flag(validate(chosen), "attribution_model")
    except ValueError as error:
        raise NotebookError(f"{ENV_ATTRIBUTION}: {error}") from None


ATTRIBUTION_MODELS = FLAGS["attribution_model"].values


# --- output -----------------------------------------------------------------------------------------------------


def setup_charts() -> None:
    """A non-interactive backend (Agg) and one house style; :func:`show` renders each figure as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.figsize": (9, 3.6), "figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def show(fig: Any) -> None:
    """Display ``fig`` inline as a PNG and close it (the same output in Jupyter, nbclient and the HTML)."""
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    display(Image(data=buf.getvalue(), format="png"))


def result(name: str, value: Any) -> None:
    """Display ``value`` (JSON-able) readably and as ``application/json`` tagged with ``name``: the figures
    the notebook test checks against the lake."""
    from IPython.display import display

    payload = json.loads(json.dumps(value, default=str))
    text = f"{name}: " + json.dumps(payload, indent=1, sort_keys=True)
    display(
        {"text/plain": text, "application/json": payload},
        raw=True,
        metadata={"application/json": {RESULT_KEY: name}},
    )


def results_of(nb: Any) -> dict[str, Any]:
    """The :func:`result` values in an executed notebook, by name."""
    found: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("application/json", {}).get(RESULT_KEY)
            if name:
                found[name] = out["data"]["application/json"]
    return found


# --- data quality and exports -------------------------------------------------------------------------------------

DQ_LAYERS = ("bronze", "silver", "gold")
DQ_READ = ["batch_id", "table_name", "rule", "checked", "failed", "evaluated_ts"]
SUMMARY_READ = ["batch_id", "table_name", "dq_score", "rows_quarantined"]
DQ_RESULT = "dq_figures"
EXPORT_RESULT = "export "
"""Prefix of the :func:`result` name :func:`export` displays: ``export <file name>``."""


def _ops_frame(lake: Lake, table: str, columns: Sequence[str], layers: Iterable[str]) -> Any:
    import pandas as pd

    frames = [lake.read(f"{layer}.{table}", columns, missing_ok=True) for layer in layers]
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def dq_figures(lake: Lake, tables: Sequence[str] | None = None) -> Any:
    """The data-quality figures of ``tables`` (default: every table its layer's ``dq_results`` names), one row
    per table, from the lake's operational tables (``<layer>.dq_results`` and ``<layer>.run_summary``) for the
    last run that checked the table: its ``batch_id``, the ``rules`` evaluated, rows ``checked`` and ``failed``
    summed over those rules, the ``failing_rules``, and the run summary's ``dq_score`` (the figure the DQScore
    alarm watches) and ``rows_quarantined``. A table no run has checked yet keeps a row with blanks."""
    layers = sorted({t.split(".", 1)[0] for t in tables}) if tables else DQ_LAYERS
    dq = _ops_frame(lake, "dq_results", DQ_READ, layers)
    summary = _ops_frame(lake, "run_summary", SUMMARY_READ, layers)
    wanted = list(tables) if tables else sorted(set(dq["table_name"]))
    dq = dq[dq["table_name"].isin(wanted)]
    latest = dq[dq["evaluated_ts"] == dq.groupby("table_name")["evaluated_ts"].transform("max")]
    figures = latest.groupby("table_name").agg(
        batch_id=("batch_id", "first"),
        rules=("rule", "size"),
        checked=("checked", "sum"),
        failed=("failed", "sum"),
        failing_rules=("failed", lambda f: int((f > 0).sum())),
    )
    figures = figures.reindex(wanted).rename_axis("table_name").reset_index()
    summary = summary.drop_duplicates(["table_name", "batch_id"], keep="last")
    figures = figures.merge(summary, on=["table_name", "batch_id"], how="left")
    counts = ["rules", "checked", "failed", "failing_rules", "rows_quarantined"]
    return figures.astype({c: "Int64" for c in counts})  # whole numbers, blank where no run checked the table


def show_dq(lake: Lake, tables: Sequence[str] | None = None) -> Any:
    """Display :func:`dq_figures` (a table, and the :func:`result` ``dq_figures`` the test checks against the
    lake); the figures as a pandas DataFrame."""
    from IPython.display import display

    figures = dq_figures(lake, tables)
    print(f"Data quality of {len(figures)} tables, last run that checked each (dq_results, run_summary):")
    display(figures.style.format({"dq_score": "{:.4f}"}, na_rep="").hide(axis="index"))
    records = figures.astype(object).where(figures.notna(), None).to_dict(orient="records")
    result(DQ_RESULT, {r.pop("table_name"): r for r in records})
    return figures


def export(frame: Any, filename: str, lake: Lake | None = None) -> Path:
    """Write ``frame`` to ``filename`` (``.csv``, or ``.parquet``) in the lake's export folder (without a lake:
    ``LAKEHOUSE_NB_OUTPUT_DIR``, else ``build/notebooks/exports`` of the checkout); display the
    :func:`result` ``export <filename>`` (path, rows, columns) and return the path."""
    out = lake.output_dir if lake is not None else _default_output(os.environ, checkout_dir())
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    if filename.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif filename.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        raise NotebookError(f"export {filename!r}: name a .csv or .parquet file")
    result(
        EXPORT_RESULT + filename, {"path": str(path), "rows": len(frame), "columns": [str(c) for c in frame.columns]}
    )
    return path


def _default_output(env: Mapping[str, str], base: Path) -> Path:
    """``LAKEHOUSE_NB_OUTPUT_DIR`` (relative: to the checkout ``base``), else ``build/notebooks/exports``."""
    if env.get(ENV_OUTPUT):
        out = Path(env[ENV_OUTPUT]).expanduser()
        return (out if out.is_absolute() else base / out).resolve()
    return (base / "build" / NOTEBOOKS_DIR / "exports").resolve()


# --- execution ----------------------------------------------------------------------------------------------------


def notebooks(folder: Path) -> list[Path]:
    """The notebooks of ``folder``, in name order."""
    return sorted(folder.glob("*.ipynb"))


def _kernel_manager(spec_dir: Path) -> Any:
    """A kernel that runs THIS interpreter (the .venv's), whatever kernelspecs the machine has installed."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    name = "lakehouse-python"
    (spec_dir / name).mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }
    (spec_dir / name / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    # IPC (unix sockets in the private temporary folder) rather than TCP on localhost: nothing listens on a port
    return KernelManager(
        kernel_name=name,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]),
        transport="ipc",
        ip=str(spec_dir / "kernel"),
    )


def execute(path: Path, env: Mapping[str, str], *, timeout: int = 300) -> Any:
    """Run every cell of the notebook at ``path`` in a fresh kernel with exactly ``env`` (cwd: its folder);
    the executed notebook. A failing cell raises ``nbclient.exceptions.CellExecutionError``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="lakehouse-kernel-") as spec_dir:
        client = NotebookClient(
            nb,
            km=_kernel_manager(Path(spec_dir)),
            timeout=timeout,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute(env=dict(env), cleanup_kc=True)  # shut the kernel down even though we made its manager
    return nb


def kernel_env(base: Mapping[str, str], **settings: str) -> dict[str, str]:
    """``base`` without any lake setting (so a developer's shell cannot redirect a run), plus ``settings``."""
    env = {k: v for k, v in base.items() if k not in LAKE_ENVS}
    env.update({k: v for k, v in settings.items() if v})
    env.setdefault("MPLBACKEND", "Agg")
    return env


def write_html(nb: Any, target: Path) -> Path:
    """Write an executed notebook as HTML to ``target``; returns ``target``."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m lakehouse.local.notebook``: execute the notebooks on a lake and write executed HTML copies."""
    p = argparse.ArgumentParser(prog="python -m lakehouse.local.notebook", description=main.__doc__)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    p.add_argument("--lake-root", help=f"local lake (default ${ENV_ROOT} or {DEFAULT_ROOT})")
    p.add_argument(
        "--output",
        type=Path,
        default=Path("build") / NOTEBOOKS_DIR,
        help=f"HTML folder; exports go to its exports/ unless ${ENV_OUTPUT} is set",
    )
    p.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    args = p.parse_args(list(argv) if argv is not None else None)
    paths = args.notebooks or notebooks(checkout_dir() / NOTEBOOKS_DIR)
    if not paths:
        print("error: no notebooks found", file=sys.stderr)
        return 1
    settings = {k: v for k, v in os.environ.items() if k in LAKE_ENVS and k != ENV_READ_LOG}
    if args.lake_root:
        settings[ENV_ROOT] = str(Path(args.lake_root).resolve())
    settings.setdefault(ENV_OUTPUT, str((args.output / "exports").resolve()))  # exports next to the HTML
    try:
        lake = open_lake(settings)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"lake:\n{lake.describe()}")
    from nbclient.exceptions import CellExecutionError

    failed = 0
    for path in paths:
        start = time.monotonic()
        try:
            nb = execute(path, kernel_env(os.environ, **settings), timeout=args.timeout)
        except CellExecutionError as error:
            failed += 1
            print(f"FAILED {path.name}:\n{error}", file=sys.stderr)
            continue
        out = write_html(nb, args.output / f"{path.stem}.html")
        print(f"{path.name}: {time.monotonic() - start:.1f} s -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
