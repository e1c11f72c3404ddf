"""fundus_utils.data.unpack: zip extraction that refuses entries escaping the target."""

from __future__ import annotations

import zipfile
from pathlib import Path

from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.unpack import extract_zip

import pytest


@pytest.mark.parametrize("evil", ["../escaped.jpg", "/tmp/escaped-abs.jpg", "a/../../escaped.jpg"])
def test_zip_entry_escaping_is_refused(tmp_path, evil):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fine.jpg", b"ok")
        z.writestr(evil, b"bad")
    target = tmp_path / "out" / "x"
    with pytest.raises(FundusDataError, match="refused zip entry") as err:
        extract_zip(archive, target)
    assert str(archive) in str(err.value)
    assert not target.exists() and not (tmp_path / "escaped.jpg").exists()
    assert not Path("/tmp/escaped-abs.jpg").exists()
