"""The README runs as written: every ```python block, pasted alone into a fresh interpreter, runs and prints what
the README shows; the cheap command-line lines run; the TOML spec shown is the shipped one and gives the Python
call's numbers.

A block written as a doctest (``>>>`` lines followed by their output) is compared doctest-style (``...`` in the
shown output elides); any other python block must run without error. Every block gets a fresh namespace (so a
block that leans on an earlier block's import fails here, as it would for a reader), and all blocks share one
child interpreter, so kernels compile once. Any python block added later is picked up the same way.
"""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.DOTALL | re.MULTILINE)
BASH_BLOCKS = re.findall(r"^```bash\n(.*?)^```", README, re.DOTALL | re.MULTILINE)

# runs in the child: each block in a fresh namespace; doctest blocks compared, others executed
_CHILD = r'''
import doctest, json, sys, traceback
blocks = json.loads(sys.stdin.read())
report = []
for i, src in enumerate(blocks):
    globs = {"__name__": "__main__"}
    if src.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(src, globs, f"README python block {i}", "README.md", 0)
        out = []
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test, out=out.append)
        report.append("".join(out) if runner.failures else "")
    else:
        try:
            exec(compile(src, f"<README python block {i}>", "exec"), globs)
            report.append("")
        except Exception:
            report.append(traceback.format_exc())
print("REPORT " + json.dumps(report))
'''


@pytest.fixture(scope="module")
def block_reports(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("readme")  # blocks may write files (a sweep's checkpoint)
    out = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(PYTHON_BLOCKS),
                         check=False, capture_output=True,
                         text=True, cwd=cwd, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("REPORT ")]
    assert out.returncode == 0 and lines, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT "):])


def test_readme_has_python_blocks_and_doctests():
    assert len(PYTHON_BLOCKS) >= 10
    assert sum(b.lstrip().startswith(">>>") for b in PYTHON_BLOCKS) >= 10  # output shown, output checked


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs_as_pasted(index, block_reports):
    assert block_reports[index] == "", f"README python block {index}:\n{PYTHON_BLOCKS[index]}\n{block_reports[index]}"


def _cheap_command_lines():
    """Command lines from the README's bash blocks that only list or print (no sweep, no install)."""
    lines = []
    for block in BASH_BLOCKS:
        for line in block.splitlines():
            cmd = line.split("#")[0].strip()
            words = shlex.split(cmd) if cmd else []
            if words[:1] == ["simengine"] and ("--list" in words or "--help" in words or words[1:2] == ["examples"]):
                lines.append(words)
    return lines


def test_readme_listing_commands_run():
    lines = _cheap_command_lines()
    assert ["simengine", "sweep", "--list"] in lines and ["simengine", "examples"] in lines
    for words in lines:
        out = subprocess.run([sys.executable, "-m", "simengine", *words[1:]],
                             check=False, capture_output=True, text=True,
                             cwd=ROOT, timeout=120)
        assert out.returncode == 0 and out.stdout, (words, out.stderr)


def test_readme_toml_is_the_shipped_spec_and_gives_the_python_calls_numbers():
    from simengine import sweep
    from simengine._spec import load_spec

    tomls = re.findall(r"^```toml\n(.*?)^```", README, re.DOTALL | re.MULTILINE)
    (shown,) = [b for b in tomls if 'simulation = "peeking"' in b]
    path = ROOT / "examples" / "peeking.toml"
    assert shown == path.read_text()
    # the README's Python sweep shows rejected_any_look at 10 looks, no boundary; the spec's point must equal it
    (block,) = [b for b in PYTHON_BLOCKS if 'se.sweep(\n...     "peeking"' in b]
    (value,) = re.findall(r"^\d+\s+10\s+([0-9.]+)\s", block, re.MULTILINE)
    spec = load_spec(path)
    # a point's stream depends only on its own parameters, so the one point alone gives the same numbers
    table = sweep(spec["simulation"], {"n_looks": [10], "boundary": ["none"]}, fixed=spec["fixed"],
                  n_sims=spec["n_sims"], rng=spec["rng"])
    assert table["rejected_any_look"].iloc[0] == float(value)
