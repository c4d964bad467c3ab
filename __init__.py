"""spacechain: plan and run chains of Hugging Face Spaces from a goal in plain English.

The one place the version is written: pyproject.toml reads it, the User-Agent and manifests use it."""

__version__ = "0.2.0"
