"""The one exception type the package raises for bad input."""

__all__ = ["FundusDataError"]


class FundusDataError(ValueError):
    """Bad or missing input data. The message names the file, what was expected and what was found.

    Taught in 00_data, §2 and §6.2.
    """
