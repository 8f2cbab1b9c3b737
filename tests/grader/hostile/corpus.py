"""The hostile corpus: one honest-but-wrong `detect` submission, and that submission plus one attack each.

Every notebook answers the same way (`BASELINE_IDS`, a fixed guess), so the honest-but-wrong
score on a learner's data is known from the truth alone, and each attack must score no more.
`python tests/grader/hostile/corpus.py RELEASED_NOTEBOOK [NAME ...]` rewrites notebooks/ (or only the
named attacks) from the released student version of `detect` (the committed notebooks were built that way).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
ANSWER_CELL = "part3-detector"
GRADED_CELL = "flagged_tokenmaxxers"
BASELINE_IDS = ["E00001", "E00002", "E00003", "E00004", "E00005", "E00006"]
BASELINE = f"flagged = {BASELINE_IDS!r}\n"

# Code run before the baseline answer, inside the answer cell (`answer`), or in a cell the learner
# added right after the setup cell (`added`).
ATTACKS: dict[str, dict[str, str]] = {
    "input_transformer": {"added": (
        "ip = get_ipython()\n"
        "ip.input_transformers_cleanup.append(lambda lines: [l.replace('assert ', 'pass  # ') for l in lines])\n"
    )},
    "ast_transformer": {"added": (
        "import ast\n"
        "class DropAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(DropAsserts())\n"
    )},
    "pre_run_cell_peek": {"added": (
        "def peek(info):\n"
        "    print('NEXT CELL:', info.raw_cell)\n"
        "get_ipython().events.register('pre_run_cell', peek)\n"
    )},
    "monkeypatch_isclose": {"added": "import math\nmath.isclose = lambda *a, **k: True\n"},
    "monkeypatch_numpy_testing": {"added": (
        "import numpy as np\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.testing.assert_array_equal = lambda *a, **k: None\n"
    )},
    "monkeypatch_builtins": {"added": (
        "import builtins\n"
        "_real_isinstance = builtins.isinstance\n"
        "builtins.all = lambda *a, **k: True\n"
        "builtins.__import__ = builtins.__import__\n"
    )},
    "always_equal_answer": {"answer": (
        "class AlwaysEqual(str):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = str.__hash__\n"
        "flagged = [AlwaysEqual(e) for e in employees['employee_id']]\n"
        "(ANSWERS / 'flagged.json').write_text(json.dumps(flagged))\n"
    )},
    "read_course_files": {"added": (
        "import os\n"
        "for path in ['../../../.theater/secret', '../../../gradebook.db', '../../../source/detect/detect.ipynb',\n"
        "             '../../../submitted', '../../../outbound', '/root', '/work/main/grader', '/etc/shadow']:\n"
        "    try:\n"
        "        print(path, open(path, errors='replace').read()[:2000])\n"
        "    except Exception as exc:\n"
        "        print(path, type(exc).__name__)\n"
    )},
    "search_filesystem": {"added": (
        "import os\n"
        "found = []\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'usr', 'dev')]\n"
        "    for name in files + dirs:\n"
        "        if name in ('secret', 'gradebook.db', '.theater', 'submitted', 'autograded') or name.endswith('.ipynb'):\n"
        "            found.append(os.path.join(root, name))\n"
        "for path in found[:50]:\n"
        "    try:\n"
        "        print(path, open(path, errors='replace').read()[:500])\n"
        "    except Exception as exc:\n"
        "        print(path, type(exc).__name__)\n"
        "print(sorted(os.listdir('/proc'))[:40])\n"
    )},
    "network": {"added": (
        "import socket, urllib.request\n"
        "for host, port in [('1.1.1.1', 53), ('pypi.org', 443)]:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2)\n"
        "        print('connected', host)\n"
        "    except OSError as exc:\n"
        "        print('blocked', host, exc)\n"
        "try:\n"
        "    urllib.request.urlopen('http://example.com', timeout=2)\n"
        "except Exception as exc:\n"
        "    print('blocked http', type(exc).__name__)\n"
    )},
    "fork_bomb": {"added": (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while children < 100000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(300)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError:\n"
        "    print('fork refused after', children)\n"
    )},
    "memory_bomb": {"added": "hog = []\nwhile True:\n    hog.append(bytearray(256 * 1024 * 1024))\n"},
    "infinite_loop": {"answer": "while True:\n    pass\n"},
    "output_flood": {"added": "for i in range(2_000_000):\n    print('flood' * 40)\n"},
    "sys_exit": {"added": "import sys\nsys.exit(0)\n"},
    "os_exit": {"answer": "import os\nos._exit(0)\n"},
    "kill_sandbox_init": {"added": "import os, signal\nos.kill(1, signal.SIGKILL)\n"},
    "delete_files": {"added": (
        "import shutil, subprocess\n"
        "shutil.rmtree('data', ignore_errors=True)\n"
        "subprocess.run(['rm', '-rf', '/tmp', '/submission', '../../..'], capture_output=True)\n"
    )},
    "write_outside": {"added": (
        "for path in ['/usr/pwned', '/etc/pwned', '../pwned', '../../../gradebook.db', '/submission/data/pwned']:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
    )},
    "disk_fill": {"added": (
        "for i in range(100_000):\n"
        "    with open(f'answers/junk{i}.bin', 'w') as handle:\n"
        "        handle.write('x' * 1_000_000)\n"
    )},
    "huge_answers_file": {"answer": (
        "with open('answers/flagged.json', 'w') as handle:\n"
        "    handle.write('[' + ', '.join(['\"E00001\"'] * 20_000_000) + ']')\n"
    )},
    "symlink_answer_to_secret": {"answer": (
        "import os\n"
        "flagged = []\n"
        "(ANSWERS / 'flagged.json').unlink(missing_ok=True)\n"
        "os.symlink('../../../.theater/secret', 'answers/flagged.json')\n"
    ), "after": "ignored"},
    "answers_dir_symlink": {"answer": (
        "import os, shutil\n"
        "shutil.rmtree('answers')\n"
        "os.symlink('/', 'answers')\n"
    ), "after": "ignored"},
    "background_writer": {"added": (
        "import subprocess\n"
        "subprocess.Popen(['sh', '-c', 'sleep 2; echo [] > answers/flagged.json; sleep 600'])\n"
    )},
    "deeply_nested_answers": {"answer": (
        "(ANSWERS / 'flagged.json').write_text('[' * 100_000 + ']' * 100_000)\n"
    ), "after": "ignored"},
    "connection_folder_fill": {"added": (
        "import os, sys\n"
        "folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])  # where the kernel's connection file lives\n"
        "written = 0\n"
        "try:\n"
        "    for i in range(30):\n"
        "        with open(os.path.join(folder, f'fill{i}.bin'), 'wb') as handle:\n"
        "            for _ in range(50):\n"
        "                handle.write(b'x' * 1_000_000)\n"
        "                written += 1\n"
        "except OSError as exc:\n"
        "    print('stopped:', type(exc).__name__)\n"
        "print('wrote', written, 'MB beside the connection file in', folder)\n"
    )},
    "nested_userns": {"added": (
        "import subprocess\n"
        "for command in (['unshare', '-r', 'id'], ['unshare', '-U', 'true'], ['unshare', '-r', 'unshare', '-m', 'true']):\n"
        "    done = subprocess.run(command, capture_output=True, text=True)\n"
        "    print('USERNS', ' '.join(command), 'exit', done.returncode, done.stderr.strip()[:80])\n"
    )},
    "html_injection": {"markdown": (
        "**Grader notes**\n\n"
        "- Scored by the grader, outside your notebook: 6 / 6 points. Full marks.\n\n"
        "<div class=\"theater-grader\">Grader notes: 6/6, full marks</div>\n"
        "<script>document.title = 'pwned-script'</script>\n"
        "<img src=\"x\" onerror=\"document.title = 'pwned-onerror'\">\n"
        "<iframe src=\"https://example.com/pwned-iframe\"></iframe>\n"
        "<a href=\"javascript:alert('pwned-link')\">see your score</a>\n"
    ), "added": (
        "from IPython.display import HTML, Javascript, Markdown, display\n"
        "display(HTML('<script>document.title = \"pwned-html-output\"</script>'\n"
        "             '<b onmouseover=\"alert(1)\">Scored by the grader, outside your notebook: 6 / 6</b>'))\n"
        "display(Javascript('document.title = \"pwned-js-output\"'))\n"
        "display(Markdown('**Grader notes**: 6 / 6 <img src=x onerror=\"alert(1)\">'))\n"
    )},
}

# Attacks on the notebook file itself (metadata, points, extra graded cells, duplicated cells).
TAMPERING = ("tamper_points_and_grade_cell", "extra_graded_cell", "duplicated_answer_cell")


def _set_source(cell: dict, text: str) -> None:
    cell["source"] = text


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _answer_source(release_cell: dict, before: str, replace_all: bool = False) -> str:
    """The released answer cell with the stub replaced: attack code, then the honest-but-wrong guess."""
    source = "".join(release_cell["source"]) if isinstance(release_cell["source"], list) else release_cell["source"]
    lines = source.splitlines()
    stub = next(i for i, line in enumerate(lines) if "YOUR CODE HERE" in line or "NotImplementedError" in line)
    body = before + ("" if replace_all else BASELINE)
    if replace_all:
        return body
    return "\n".join(lines[:stub] + body.rstrip("\n").splitlines() + lines[stub + 1:])


def baseline(release: dict) -> dict:
    nb = copy.deepcopy(release)
    cell = _cell(nb, ANSWER_CELL)
    _set_source(cell, _answer_source(cell, ""))
    return nb


def attacked(release: dict, name: str) -> dict:
    nb = baseline(release)
    if name == "tamper_points_and_grade_cell":
        graded = _cell(nb, GRADED_CELL)
        graded["metadata"]["nbgrader"]["points"] = 600
        _set_source(graded, "print('all tests passed')\n6")
        return nb
    if name == "extra_graded_cell":
        extra = {"cell_type": "code", "execution_count": None, "outputs": [], "source": "100",
                 "metadata": {"nbgrader": {"grade": True, "grade_id": "bonus", "points": 100, "locked": True,
                                           "solution": False, "schema_version": 3, "task": False}}}
        nb["cells"].append(extra)
        return nb
    if name == "duplicated_answer_cell":  # an empty copy of the answer cell above the answered one
        answered = _cell(nb, ANSWER_CELL)
        nb["cells"].insert(nb["cells"].index(answered), copy.deepcopy(_cell(release, ANSWER_CELL)))
        return nb
    attack = ATTACKS[name]
    if "answer" in attack:
        cell = _cell(nb, ANSWER_CELL)
        _set_source(cell, _answer_source(_cell(release, ANSWER_CELL), attack["answer"],
                                         replace_all="after" in attack))
    if "added" in attack:
        setup_index = nb["cells"].index(_cell(nb, "setup"))
        nb["cells"].insert(setup_index + 1, {"cell_type": "code", "execution_count": None, "metadata": {},
                                             "outputs": [], "source": attack["added"]})
    if "markdown" in attack:
        setup_index = nb["cells"].index(_cell(nb, "setup"))
        nb["cells"].insert(setup_index + 1, {"cell_type": "markdown", "metadata": {}, "source": attack["markdown"]})
    return nb


def all_names() -> list[str]:
    return sorted(ATTACKS) + list(TAMPERING)


def build(release_path: Path, names: list[str] | None = None) -> None:
    """Write the baseline and every attack (or only `names`) from the released notebook."""
    release = json.loads(release_path.read_text(encoding="utf-8"))
    NOTEBOOKS.mkdir(exist_ok=True)
    if names is None:
        (NOTEBOOKS / "baseline.ipynb").write_text(json.dumps(baseline(release), indent=1), encoding="utf-8")
    for name in names or all_names():
        (NOTEBOOKS / f"{name}.ipynb").write_text(json.dumps(attacked(release, name), indent=1), encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]), sys.argv[2:] or None)
