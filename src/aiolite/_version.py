"""The one place the version is written: the package metadata (hatch) and
``aiolite.__version__`` both read it from here."""

__version__ = "0.1.0"
