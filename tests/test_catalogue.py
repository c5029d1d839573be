"""The Spanish catalogue is complete, compiled, and in step with the source."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
SKIP = {".git", ".venv", ".ci", "tests", "locale", "var", "staticfiles", "docs", "__pycache__"}


def test_every_spanish_entry_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(PO))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert not po.metadata_is_fuzzy


def test_the_compiled_catalogue_matches_the_po_file():
    po = polib.pofile(str(PO))
    mo = polib.mofile(str(PO.with_suffix(".mo")))
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in mo}
    for entry in po.translated_entries():
        assert compiled.get((entry.msgctxt, entry.msgid)) == (
            entry.msgstr,
            {int(k): v for k, v in entry.msgstr_plural.items()},
        ), entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
def test_no_translatable_string_is_missing_from_the_catalogue(tmp_path):
    for source in ROOT.iterdir():
        if source.name in SKIP or source.name.startswith("."):
            continue
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, tmp_path / source.name, ignore=ignore)
        elif source.suffix == ".py":
            shutil.copy(source, tmp_path / source.name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "-v", "0"],
        cwd=tmp_path,
        check=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"}
        | {"PYTHONPATH": str(tmp_path)},
    )
    fresh = polib.pofile(str(tmp_path / "locale" / "es" / "LC_MESSAGES" / "django.po"))
    committed = {entry.msgid for entry in polib.pofile(str(PO)) if not entry.obsolete}
    missing = {entry.msgid for entry in fresh if not entry.obsolete} - committed
    assert not missing, f"run `make messages` and translate: {sorted(missing)}"
