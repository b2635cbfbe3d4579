"""Mutation testing of the modules that decide what is stored, with cosmic-ray.

    .venv/bin/pip install -e '.[test,postgres,workers,mutation]'
    .venv/bin/python tools/mutation.py                  # every module below
    .venv/bin/python tools/mutation.py core/rules.py    # one or more of them

Nightly-style, not in CI: each mutant is a fresh pytest run of the few fast tests that cover
its module (SQLite only: these modules hold no SQL), one after another, so it stays gentle on
a shared machine. cosmic-ray mutates files in place, so it works on a copy of the checkout
(tracked files, uncommitted changes included) in a temporary folder: the working tree is
never touched (a killed run may leave its copy, `mis-sync-mutation-*`, in the temp folder).
The copy is imported as `mis_sync` through a folder of two symlinks put first on
PYTHONPATH, ahead of the editable install.

Prints, per module, the mutants killed and surviving and the score, then each survivor's
diff; `--keep DIR` keeps the copy and its cosmic-ray sessions (cr-report, cr-html). The
scores are recorded in docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# module → the fast tests that cover it; a mutant they do not catch is a survivor
MODULES = {
    "core/rules.py": [
        "tests/core/test_rules.py",
        "tests/core/test_rules_edges.py",
        "tests/core/test_second_connector.py",
    ],
    "core/store/diff.py": [
        "tests/core/test_diff_edges.py",
        "tests/core/test_tracking.py",
        "tests/integris/test_kept_copy.py",
    ],
    "core/local.py": ["tests/core/test_local_fields.py", "tests/core/test_tracking.py"],
    "connectors/integris/mapping.py": [
        "tests/integris/test_mapping.py",
        "tests/integris/test_mapping_edges.py",
        "tests/integris/test_class_and_group_text.py",
        "tests/integris/test_bad_records.py",
    ],
    "connectors/oneroster/mapping.py": ["tests/oneroster/test_mapping.py"],
}
TIMEOUT = 60.0  # seconds per mutant: a mutant that makes a test loop is killed by it
CONFIG = """\
[cosmic-ray]
module-path = "{module}"
timeout = {timeout}
excluded-modules = []
test-command = "{test_command}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = {exclude}
"""
CONFIG_TEST = "{python} -m pytest -x -q -p pytest_timeout --timeout 30 -k 'not postgresql' {tests}"
# cosmic-ray swaps each binary operator for all ten others and each comparison for six: most
# are the same test twice (a set `-` made `*`, `/`, `//`, `%`, `**`, `<<`, `>>` or `^` is one
# TypeError). Kept: the swaps to `+`, `-`, `|`, `&` and between the comparisons; skipped: the
# rest, and comparisons turned into `is`/`is not` (on strings and ints, an `==` made `is` is
# the same `==` in CPython's small cases and a flake otherwise).
EXCLUDE = [
    r"core/ReplaceBinaryOperator_\w+_(Mul|Div|FloorDiv|Mod|Pow|RShift|LShift|BitXor)$",
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
]


def session_name(module: str) -> str:
    """core/store/diff.py → core_store_diff: the name of its config and session files."""
    return module.replace("/", "_").removesuffix(".py")


def copy_checkout(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    site = dest / ".mutation-site" / "mis_sync"
    site.mkdir(parents=True)
    (site / "core").symlink_to(dest / "core")
    (site / "connectors").symlink_to(dest / "connectors")


def run_module(work: Path, module: str, env: dict) -> dict:
    tests = [t for t in MODULES[module] if (work / t).exists()]
    config, session = (work / f"{session_name(module)}.{ext}" for ext in ("toml", "sqlite"))
    config.write_text(
        CONFIG.format(
            module=module,
            timeout=TIMEOUT,
            test_command=CONFIG_TEST.format(python=BIN / "python", tests=" ".join(tests)),
            exclude="[" + ", ".join(f"'{e}'" for e in EXCLUDE) + "]",
        )
    )
    cosmic = str(BIN / "cosmic-ray")
    started = time.monotonic()
    subprocess.run([cosmic, "init", str(config), str(session)], cwd=work, env=env, check=True)
    subprocess.run(
        [str(BIN / "cr-filter-operators"), str(session), str(config)], cwd=work, env=env, check=True
    )
    baseline = subprocess.run(
        [cosmic, "baseline", str(config)], cwd=work, env=env, capture_output=True, text=True
    )
    if baseline.returncode != 0:
        sys.exit(f"{module}: the tests fail without any mutation:\n{baseline.stdout[-2000:]}")
    subprocess.run([cosmic, "exec", str(config), str(session)], cwd=work, env=env, check=True)
    return {"module": module, "session": session, "seconds": time.monotonic() - started}


def summarise(result: dict) -> tuple[dict, list[str]]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    with use_db(str(result["session"]), WorkDB.Mode.open) as db:
        done = [
            (item, res)
            for item, res in db.completed_work_items
            if res.worker_outcome == WorkerOutcome.NORMAL  # not skipped by the filter
        ]
    survivors = [
        f"{item.mutations[0].module_path}:{item.mutations[0].start_pos[0]}"
        f" {item.mutations[0].operator_name}\n{res.diff}"
        for item, res in done
        if res.test_outcome == TestOutcome.SURVIVED
    ]
    killed = sum(1 for _, res in done if res.test_outcome == TestOutcome.KILLED)
    total = sum(1 for _, res in done if res.test_outcome != TestOutcome.INCOMPETENT)
    score = 100.0 * killed / total if total else 100.0
    row = {**result, "mutants": total, "killed": killed, "survived": len(survivors)}
    return row | {"score": score}, survivors


def retest(work: Path, kept: Path, modules: list[str], env: dict) -> None:
    """Run each survivor of earlier sessions again against the tests as they are now (in a
    fresh copy at `work`), and record its new outcome in its session: after adding tests for
    survivors, this is minutes instead of a whole run."""
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    os.environ.update(env)  # the test command inherits the copy's PYTHONPATH
    os.chdir(work)
    for module in modules:
        session = kept / f"{session_name(module)}.sqlite"
        tests = [t for t in MODULES[module] if (work / t).exists()]
        command = CONFIG_TEST.format(python=BIN / "python", tests=" ".join(tests))
        with use_db(str(session), WorkDB.Mode.open) as db:
            survivors = [
                item
                for item, res in db.completed_work_items
                if res.test_outcome == TestOutcome.SURVIVED
            ]
            for item in survivors:
                db.set_result(item.job_id, mutate_and_test(item.mutations, command, TIMEOUT))
        print(f"{module}: {len(survivors)} survivors tested again")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/mutation.py")
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], default=[])
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it afterwards")
    parser.add_argument(
        "--retest", metavar="DIR", help="test the survivors of the sessions kept in DIR again"
    )
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    if args.retest:
        kept = Path(args.retest).resolve()
        modules = [m for m in modules if (kept / f"{session_name(m)}.sqlite").exists()]
    work = Path(args.keep or tempfile.mkdtemp(prefix="mis-sync-mutation-"))
    if args.keep and work.exists() and any(work.iterdir()):
        parser.error(f"--keep {work}: not empty (it would mix two sessions)")
    work.mkdir(parents=True, exist_ok=True)
    try:
        copy_checkout(work)
        env = dict(
            os.environ,
            PYTHONPATH=f"{work / '.mutation-site'}{os.pathsep}{work}",
            # only the plugin these tests use: celery's and the others cost a second a mutant
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        )
        rows, report = [], []
        if args.retest:
            retest(work, kept, modules, env)
        for module in modules:
            if args.retest:
                session = kept / f"{session_name(module)}.sqlite"
                result = {"module": module, "session": session, "seconds": 0.0}
            else:
                result = run_module(work, module, env)
            row, survivors = summarise(result)
            rows.append(row)
            report += [f"--- survivor in {s}" for s in survivors]
        print("\n".join(report))
        print(f"\n{'module':34} {'mutants':>7} {'killed':>7} {'survived':>8} {'score':>6} time")
        for r in rows:
            print(
                f"{r['module']:34} {r['mutants']:7} {r['killed']:7} {r['survived']:8}"
                f" {r['score']:5.1f}% {r['seconds'] / 60:.0f} min"
            )
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
