"""The sessions page's link back to the front end that opened it (JupyterLab or Notebook 7)."""

from __future__ import annotations

import pytest

from jupychat.server.front import FrontEnd, front_end

HOST = "127.0.0.1:8888"


@pytest.mark.parametrize(
    ("referer", "base", "expected"),
    [
        (f"http://{HOST}/lab", "/", FrontEnd("JupyterLab", "/lab")),
        (f"http://{HOST}/lab/tree/a.ipynb", "/", FrontEnd("JupyterLab", "/lab")),
        (f"http://{HOST}/tree", "/", FrontEnd("Jupyter Notebook", "/tree")),
        (f"http://{HOST}/tree/work/x", "/", FrontEnd("Jupyter Notebook", "/tree")),
        (f"http://{HOST}/notebooks/a.ipynb", "/", FrontEnd("Jupyter Notebook", "/tree")),
        (f"http://{HOST}/edit/a.py", "/", FrontEnd("Jupyter Notebook", "/tree")),
        (
            f"http://{HOST}/user/ann/tree",
            "/user/ann/",
            FrontEnd("Jupyter Notebook", "/user/ann/tree"),
        ),
        (f"http://{HOST}/user/ann/lab", "/user/ann", FrontEnd("JupyterLab", "/user/ann/lab")),
        # unknown, foreign or missing: JupyterLab
        (f"http://{HOST}/jupychat/", "/", FrontEnd("JupyterLab", "/lab")),
        ("http://evil.example/tree", "/", FrontEnd("JupyterLab", "/lab")),
        (f"http://{HOST}/other/tree", "/user/ann/", FrontEnd("JupyterLab", "/user/ann/lab")),
        (None, "/", FrontEnd("JupyterLab", "/lab")),
        ("not a url", "/", FrontEnd("JupyterLab", "/lab")),
    ],
)
def test_front_end_from_the_referer(referer, base, expected):
    assert front_end(referer, base, HOST) == expected
