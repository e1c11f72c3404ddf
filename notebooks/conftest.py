"""nbval settings for the course notebooks.

stderr is not compared: Paddle prints device and deprecation warnings there, and the
package's progress bars go there in quick mode. stdout and rich outputs are compared.
"""


def pytest_collectstart(collector):
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr",)
