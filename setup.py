"""Builds the optional C scanner; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "monitor.extract._nesting",
            ["monitor/extract/_nesting.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            optional=True,  # without a C compiler, nesting.py's Python scan is used
        )
    ]
)
