"""Views and seeds an incremental dbt build on DuckDB can leave alone.

A staging view holds no data, and a seed holds the CSV it was loaded from: rebuilding them only
matters when the project, the CSV or the tables they read changed. On an hourly run nothing of
that changed, yet re-creating ~30 views and reloading ~10 seeds is a node each — 0.6–0.9 s of
the ~7 s an incremental build takes at 10k leads (docs/benchmarks.md, dbt, round 4). So the
pipeline's incremental build excludes every view and seed that

- an earlier build created successfully with the same **fingerprint**: a hash of every project
  file (models, macros, seeds, tests, dbt_project.yml, profiles.yml), the dbt and adapter
  versions, the values of the environment variables those files read (secret-looking names left
  out), and the columns and types of every source table upstream of the node (or its absence: a
  view over a source that did not exist yet selects from an empty row set and must be rebuilt
  once it lands), and
- still exists in the warehouse as the same kind of relation.

Any doubt — no record, another fingerprint, a relation missing, the warehouse unreadable —
means the node is built.

The same fingerprint guards the **incremental models** the other way round: they merge only the
landing rows that are new since their last build, so rows they hold were computed by the code,
seeds and settings of *that* build. When an incremental model that exists has no record, or
another fingerprint (a new release of the project, an edited mapping seed, another setting), the
build runs with `--full-refresh`, which recomputes them from all landed rows; dbt alone would keep
the old rows, or fail on a changed column list.

The **staging models** are the landing parsed, and `--full-refresh` keeps the incremental ones
(dbt_project.yml: `full_refresh` is the var `reparse_landing`, false by default): re-parsing every
landing payload is up to an eighth of a full build at 1M leads. Their fingerprint therefore covers only
what can change them — the staging models' files, the macros, dbt_project.yml, profiles.yml, the
versions, the environment and their landing tables' columns — not the seeds, the intermediate
models or the marts. When it differs for an incremental staging model that exists, the build also
gets `--vars '{"reparse_landing": true}'` (and `--full-refresh`: everything below them was computed
from the old staging rows).

dbt's own `state:modified` is not used: it cannot see a changed `var` or `env_var`, nor a source
table that appeared.

The record lives in the warehouse itself (`meta.dbt_unchanged_nodes`), written after the build
from dbt's run_results.json: a node that succeeded gets the fingerprint, one that failed loses
its record. A copied or restored warehouse therefore carries its own truth.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

TABLE = "meta.dbt_unchanged_nodes"
DDL = [
    "CREATE SCHEMA IF NOT EXISTS meta",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        unique_id VARCHAR PRIMARY KEY, relation VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
        built_at TIMESTAMPTZ NOT NULL)""",
]
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")
# what a staging model's fingerprint covers (module docstring): its own layer and the macros
STAGING_DIRS = ("models/staging", "macros")
REPARSE_VARS = json.dumps({"reparse_landing": True})
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
_SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def is_candidate(node: dict[str, Any]) -> bool:
    """A seed, or a model materialised as a view: what a build may skip."""
    return node["resource_type"] == "seed" or (
        node["resource_type"] == "model" and node["config"].get("materialized") == "view")


def is_incremental(node: dict[str, Any]) -> bool:
    """An incremental model: rebuilt in full when its fingerprint changed."""
    return node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"


def is_tracked(node: dict[str, Any]) -> bool:
    """What the record keeps a fingerprint of."""
    return is_candidate(node) or is_incremental(node)


def is_staging(node: dict[str, Any]) -> bool:
    """A staging model: the landing parsed (fingerprinted apart; the incremental ones are kept by
    `--full-refresh`)."""
    return node["resource_type"] == "model" and node.get("fqn", [None, None])[1:2] == ["staging"]


def _relation_type(node: dict[str, Any]) -> str:
    return "VIEW" if node["resource_type"] == "model" and not is_incremental(node) else "BASE TABLE"


def _project_files(project_dir: Path) -> list[Path]:
    files = [p for d in PROJECT_DIRS for p in sorted((project_dir / d).rglob("*")) if p.is_file()]
    return files + [project_dir / f for f in PROJECT_FILES if (project_dir / f).is_file()]


def _project_parts(project_dir: Path, environ: dict[str, str]) -> tuple[str, str]:
    """(the whole project's part, the staging layer's part) of the fingerprints, each file read
    once: the hash of the project files (the staging part: only those under STAGING_DIRS, and the
    project-wide files), the dbt and adapter versions, and the values of the environment
    variables any project file reads."""
    whole, staging = hashlib.sha256(), hashlib.sha256()
    env_names: set[str] = set()
    for path in _project_files(project_dir):
        rel, body = path.relative_to(project_dir), path.read_bytes()
        chunk = str(rel).encode() + b"\0" + body + b"\0"
        whole.update(chunk)
        if rel.parent == Path(".") or any(rel.is_relative_to(d) for d in STAGING_DIRS):
            staging.update(chunk)
        env_names.update(_ENV_VAR.findall(body.decode("utf-8", errors="replace")))
    common = [f"{dist}={metadata.version(dist)}\0".encode() for dist in ("dbt-core", "dbt-duckdb", "duckdb")]
    common += [f"{name}={environ.get(name)!r}\0".encode() for name in sorted(env_names) if not _SECRET.search(name)]
    for h in (whole, staging):
        for chunk in common:
            h.update(chunk)
    return whole.hexdigest(), staging.hexdigest()


def fingerprints(project_dir: Path, manifest: dict[str, Any], con: duckdb.DuckDBPyConnection,
                 environ: dict[str, str]) -> dict[str, str]:
    """Each tracked node's fingerprint (module docstring), by unique_id. The project part is
    shared; the source part covers only the sources upstream of the node, so a `quality` table the
    junk-detection step reshapes does not invalidate the staging views over raw tables.
    `con` reads the warehouse's catalog."""
    project_part, staging_part = _project_parts(project_dir, environ)

    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, dtype in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        columns.setdefault((schema, table), []).append((column, dtype))
    sources = manifest.get("sources", {})
    nodes = manifest["nodes"]

    def upstream_sources(uid: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        for parent in nodes[uid].get("depends_on", {}).get("nodes", []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent in sources:
                found.add(parent)
            elif parent in nodes:
                found |= upstream_sources(parent, seen)
        return found

    out = {}
    for uid, node in nodes.items():
        if not is_tracked(node):
            continue
        catalog = []
        for sid in sorted(upstream_sources(uid, set())):
            key = (sources[sid]["schema"], sources[sid].get("identifier") or sources[sid]["name"])
            catalog.append([list(key), columns.get(key)])
        part = staging_part if is_staging(node) else project_part
        out[uid] = hashlib.sha256((part + json.dumps(catalog)).encode()).hexdigest()
    return out


@dataclass
class Plan:
    """What one build may skip, which incremental models it must recompute, and why."""

    skip: list[str] = field(default_factory=list)  # node names, for `--exclude`
    reason: str = ""
    # incremental models whose rows were computed by another definition: the build gets
    # `--full-refresh` (all of them are in one dbt step, and they share the project's part of the
    # fingerprint, so one changed file changes them all anyway)
    refresh: list[str] = field(default_factory=list)
    # incremental staging models parsed by another definition: `--full-refresh` keeps them, so the
    # build also sets `reparse_landing` (and refreshes everything below them)
    reparse: list[str] = field(default_factory=list)

    @classmethod
    def recomputing(cls, incremental: list[dict[str, Any]], skip: list[str] | None = None,
                    reason: str = "") -> "Plan":
        """A plan that recomputes the `incremental` model nodes in full: the staging ones by parsing
        the landing again, the others by `--full-refresh`."""
        return cls(skip or [], reason=reason,
                   refresh=sorted(n["name"] for n in incremental if not is_staging(n)),
                   reparse=sorted(n["name"] for n in incremental if is_staging(n)))

    @property
    def build_args(self) -> list[str]:
        return (["--exclude", " ".join(self.skip)] if self.skip else []) + (
            ["--full-refresh"] if self.refresh or self.reparse else []) + (
            ["--vars", REPARSE_VARS] if self.reparse else [])


def _existing_relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    return {(s, t, kind) for s, t, kind in con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_catalog = current_database()").fetchall()}


def plan(project_dir: Path, manifest: dict[str, Any], warehouse: Path, environ: dict[str, str]) -> Plan:
    """Which views and seeds the next build may exclude (see the module docstring)."""
    if not Path(warehouse).exists():
        return Plan(reason="no warehouse yet")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # locked or unreadable: build everything, record nothing
        return Plan(reason=f"warehouse not readable ({type(exc).__name__})")
    try:
        fps = fingerprints(project_dir, manifest, con, environ)
        has_table = con.execute(
            "select count(*) from information_schema.tables where table_catalog = current_database() "
            "and table_schema = 'meta' and table_name = 'dbt_unchanged_nodes'").fetchone()[0]
        recorded = dict(con.execute(f"select unique_id, fingerprint from {TABLE}").fetchall()) if has_table else {}
        existing = _existing_relations(con)
    finally:
        con.close()
    skip = sorted(node["name"] for uid, node in manifest["nodes"].items()
                  if is_candidate(node) and recorded.get(uid) == fps[uid]
                  and (node["schema"], node["alias"], _relation_type(node)) in existing)
    stale = [node for uid, node in manifest["nodes"].items()
             if is_incremental(node) and recorded.get(uid) != fps[uid]
             and (node["schema"], node["alias"], _relation_type(node)) in existing]
    result = Plan.recomputing(stale, skip)
    candidates = sum(1 for n in manifest["nodes"].values() if is_candidate(n))
    result.reason = f"{len(skip)} of {candidates} views and seeds unchanged since they were built"
    if result.refresh:
        result.reason += (f"; {len(result.refresh)} incremental models were built by another definition of "
                          "the project or without a record: full refresh")
    if result.reparse:
        result.reason += (f"; {len(result.reparse)} incremental staging models were parsed by another "
                          "definition of the staging layer or without a record: the landing is parsed again")
    return result


def record(project_dir: Path, manifest: dict[str, Any], run_results: dict[str, Any],
           con: duckdb.DuckDBPyConnection, environ: dict[str, str]) -> int:
    """After a build: tracked nodes (views, seeds, incremental models) that succeeded get the
    fingerprint, those that failed lose their record. `con` is a writer's connection to the
    warehouse. The fingerprint is taken now, not before the build: the build's on-run-start hook may have created source tables (the
    `quality` ones) that its views were then built against. Returns the number of nodes recorded."""
    fps = fingerprints(project_dir, manifest, con, environ)
    built, failed = [], []
    for result in run_results.get("results", []):
        node = manifest["nodes"].get(result["unique_id"])
        if node is None or not is_tracked(node):
            continue
        (built if result["status"] == "success" else failed).append(node)
    for ddl in DDL:
        con.execute(ddl)
    con.execute("begin")
    try:
        for node in failed:
            con.execute(f"delete from {TABLE} where unique_id = ?", [node["unique_id"]])
        for node in built:
            con.execute(f"insert or replace into {TABLE} values (?, ?, ?, now())",
                        [node["unique_id"], f'{node["schema"]}.{node["alias"]}', fps[node["unique_id"]]])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(built)

