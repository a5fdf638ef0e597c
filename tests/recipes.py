"""Helper of the recipe tests: a recipe's own files copied elsewhere, made runnable there."""
import shutil
import subprocess
from pathlib import Path


def copy_recipe(repo: Path, name: str, dest: Path) -> Path:
    """egs/<name>'s run.sh, local/ and conf/ in dest/<name>, with the links that
    egs/TEMPLATE/setup_recipe.sh makes (steps, utils, lid.sh, path.sh, cmd.sh)."""
    src, d = repo / "egs" / name, dest / name
    d.mkdir()
    shutil.copy2(src / "run.sh", d / "run.sh")
    for sub in ("local", "conf"):
        shutil.copytree(src / sub, d / sub)
    subprocess.run([repo / "egs" / "TEMPLATE" / "setup_recipe.sh", d], check=True,
                   capture_output=True)
    return d


def run_copied_recipe(repo: Path, name: str, dest: Path, args: list[str], config=None,
                      timeout: float = 3600) -> Path:
    """copy_recipe, then `./run.sh ARGS` there, its lines on the terminal under pytest -v
    (conftest.stream_run); the whole output in <copy>/run1.log; fails unless it exits 0."""
    from conftest import stream_run
    d = copy_recipe(repo, name, dest)
    run = stream_run(["./run.sh", *args], cwd=d, config=config, timeout=timeout, label=name)
    (d / "run1.log").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-4000:]
    return d
