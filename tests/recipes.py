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
