from setuptools import find_packages, setup

setup(
    name="lidtool",
    version="0.1.0",
    description="Kaldi-style recipes for spoken language identification and embeddings",
    packages=find_packages(include=["lidtool", "lidtool.*"]),
    python_requires=">=3.10",
    # Runtime dependencies are installed, pinned, by tools/install.sh (torch must stay the
    # CPU 2.13.0 build; a loose requirement here would let pip pull a CUDA build).
    install_requires=[],
    entry_points={"console_scripts": ["lidtool=lidtool.cli:main"]},
)
