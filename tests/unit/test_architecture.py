"""Rules of the house that code can check."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "salesops"


def test_importing_salesops_outside_ui_does_not_import_streamlit():
    modules = sorted(
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
        if "ui" not in p.relative_to(PACKAGE).parts[:1] and p.name != "__main__.py"
    )
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_module_outside_ui_names_streamlit():
    offenders = []
    for p in PACKAGE.rglob("*.py"):
        if p.relative_to(PACKAGE).parts[0] == "ui":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(n.split(".")[0] == "streamlit" for n in names):
                    offenders.append(str(p))
    assert offenders == []


def test_no_page_renders_html_from_data():
    root = PACKAGE.parent
    for p in list((root / "views").glob("*.py")) + [root / "app.py"] + list((PACKAGE / "ui").glob("*.py")):
        assert "unsafe_allow_html=True" not in p.read_text(), p
