"""The one exception type the package raises for bad input."""

__all__ = ["FundusDataError"]


class FundusDataError(ValueError):
    """Bad or missing input data. The message names the file, what was expected and what was found."""
