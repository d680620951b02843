"""The pictures' tests leave no figure open (plots return their Axes and keep the figure, as
matplotlib's own functions do): each test's figures are closed after it, where pyplot is loaded."""
from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
