"""The package's layers: imports (module- and function-level) run one way, with no cycle."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "roidask"

# lower numbers are lower layers; a module may import its own layer or lower ones
LAYERS = {
    "roidask.errors": 0, "roidask._utils": 0,
    "roidask.grid": 1,
    "roidask._dask": 2,
    "roidask.accessor": 3, "roidask.io": 3, "roidask.testing": 3,
    "roidask.image": 4, "roidask.regions": 4, "roidask.signal": 4, "roidask.stats": 4,
    "roidask.datasets": 4, "roidask.interfaces": 4, "roidask.bids": 4,
    "roidask.reporting": 5,
    "roidask.masking": 6, "roidask.glm": 6,
    "roidask.maskers": 7,
    "roidask.pipeline": 8,
    "roidask.cli": 9,
}


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module):
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} has no layer in tests/test_layout.py")


def _imports():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("roidask"):
                    targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("roidask"))
        graph[name] = targets - {name, "roidask"}
    return graph


def test_every_import_runs_down_the_layers():
    graph = _imports()
    upward = [
        f"{source} -> {target}"
        for source, targets in graph.items() if source != "roidask"
        for target in targets if _layer(target) > _layer(source)
    ]
    assert upward == []


def test_no_import_cycle():
    graph = _imports()
    graph.pop("roidask", None)
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in graph.get(node, ()):
            target = target if target in graph else target.rsplit(".", 1)[0]
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target in graph and target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_import_roidask_is_light():
    code = (
        "import sys, roidask; "
        "print(sorted(m for m in ('distributed', 'zarr', 'matplotlib', 'roidask.pipeline') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nilearn_namespaces():
    from roidask.image import (  # noqa: F401
        binarize_img,
        index_img,
        mean_img,
        new_img_like,
        resample_to_img,
        smooth_img,
        threshold_img,
    )
    from roidask.maskers import LabelsMasker, Masker  # noqa: F401
    from roidask.masking import compute_background_mask, compute_epi_mask  # noqa: F401
    from roidask.regions import connected_regions  # noqa: F401
    from roidask.signal import clean  # noqa: F401
