"""How many real models cnncost imports, and whether what it imports is exact: every model of the
reference fixtures tests/fixtures/models_reference.json (the torchvision zoo) and
tests/fixtures/timm_reference.json (the timm sample), measured by tests/fixtures/measure_models.py.

Run in the side venv (torchvision and timm), with this tree first on the path, from its root:

    PYTHONPATH=$PWD nice -n 10 /work/sidevenv/bin/python benchmarks/import_coverage.py           # both fixtures
    PYTHONPATH=$PWD /work/sidevenv/bin/python benchmarks/import_coverage.py torchvision --only vit_b_16
    PYTHONPATH=$PWD /work/sidevenv/bin/python benchmarks/import_coverage.py --resume              # skip done ones

Each model is built exactly as the measuring script builds it (its functions, loaded by file; no
weights), imported with `cnncost.from_torch(model, input=...)` (train mode as measured;
detection eval mode, without --allow-unknown), and tabulated with
`cnncost.table(net, batch=2, dtype="fp32", memory="autograd", device="cpu")`. Each runs in its own
forked process with a time limit. Outcomes:
- exact: params, MACs (all five classes: conv, conv-transpose, linear, matmul, attention; the
  whole batch's, work done once per forward included) and saved bytes equal the reference, and
  the spec the import writes (`import -o x.yaml`) gives the same three figures (`table x.yaml`);
- different: which figure, cnncost's and the reference's value, and the relative difference;
  MACs also say whether they equal the reference's conv + conv-transpose + linear (the convention
  cnncost counted before issue 18), and cnncost's MACs by class (rows grouped by type) beside
  the reference's;
- refused: cnncost said no with one line (CnnCostError); grouped by that line with the module
  paths and numbers taken out, so one missing op is one group;
- no input: the model's input cannot be given to from_torch;
- crashed: any other exception (a bug), or the time limit.
Several inputs (optical flow: two images) are given as a list of per-sample shapes. Detection
models take a list of images: the whole model is imported in eval mode at one image's shape (the
list holds batch images), its data-dependent steps opaque rows; it is exact when its params equal
the whole model's and its known MACs the `dense` part's (the transform, backbone and dense heads:
everything that is not data-dependent), with the opaque rows' unknown figures named (`opaque`).
Its `backbone` and `dense` parts (see measure_models.py) are plain one-tensor modules and are
compared as models NAME/backbone and NAME/dense.

Writes tests/fixtures/import_coverage.json (every model's outcome, with the cnncost commit and
whether the tree was modified; --out elsewhere) and the summary table beside it (.txt); the JSON
is rewritten after every model.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REFERENCES = {"torchvision": FIXTURES / "models_reference.json", "timm": FIXTURES / "timm_reference.json"}
OUT_JSON = FIXTURES / "import_coverage.json"
BATCH = 2
CLASSES = ("conv", "conv_transpose", "linear", "matmul", "attention")
OLD_CLASSES = ("conv", "conv_transpose", "linear")  # cnncost's default convention before issue 18


def _measuring_script():
    path = FIXTURES / "measure_models.py"
    spec = importlib.util.spec_from_file_location("measure_models_by_file", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _class_of(row_type: str) -> str:
    """A cnncost row type -> the reference's MAC class ('other' for the rest)."""
    t = row_type.lower()
    if t in ("conv_transpose", "deconv", "conv_transpose2d") or "transpose" in t and "conv" in t:
        return "conv_transpose"
    if t.startswith("conv"):
        return "conv"
    if t in ("linear", "fc", "dense"):
        return "linear"
    if "attention" in t or "sdpa" in t:
        return "attention"
    if "matmul" in t or t in ("bmm", "mm", "einsum"):
        return "matmul"
    return "other"


def cnncost_figures(module, input, train: bool) -> dict:
    """Import with cnncost and tabulate at batch 2, fp32, autograd memory on CPU."""
    import cnncost
    net = cnncost.from_torch(module, input=input, train=train)
    import torch
    report = cnncost.table(net, batch=BATCH, dtype="fp32", memory="autograd", device="cpu",
                           torch_version=torch.__version__)  # the release the reference was measured on
    totals = report.totals
    # the round trip every import promises: import -o x.yaml, then table x.yaml, the same figures
    from cnncost.spec import dump_spec, parse_spec
    again = cnncost.table(parse_spec(dump_spec(net)), batch=BATCH, dtype="fp32", memory="autograd", device="cpu",
                          torch_version=torch.__version__).totals
    round_trip = [k for k in ("params", "macs", "saved_bytes") if again.figures.get(k) != totals.figures.get(k)]
    by_class: dict[str, int] = {}
    other_types: dict[str, int] = {}
    for row in report.rows:
        if not row.macs:
            continue
        cls = _class_of(row.type)
        by_class[cls] = by_class.get(cls, 0) + row.macs // BATCH
        if cls == "other":
            other_types[row.type] = other_types.get(row.type, 0) + row.macs // BATCH
    return {"params": totals.params, "macs": totals.macs // BATCH, "macs_b2": totals.macs, "macs_by_class": by_class,
            "macs_other_types": other_types, "saved_b2": totals.saved_bytes,
            "unknown": report.unknown_counts(), "rows": len(report.rows), "round_trip": round_trip}


def compare(ref: dict, got: dict) -> dict:
    """The outcome of one model: exact or the figures that differ."""
    diffs = {}
    ref_macs = ref["macs"]["total"]
    old = sum(ref["macs"][c] for c in OLD_CLASSES)
    # MACs at batch 2, whole batch: per sample x 2 plus the work done once per forward (Swin V2's MLP)
    figures = (("params", ref["params"], got["params"]), ("macs", ref_macs * BATCH, got["macs_b2"]),
               ("saved_b2", ref["saved_b2"]["total"], got["saved_b2"]))
    for key, want, have in figures:
        if want != have:
            d = {"cnncost": have, "reference": want,
                 "rel": round((have - want) / want, 6) if want else None}
            if key == "macs":
                d["equals_conv_linear_only"] = have == old * BATCH and old != ref_macs
                d["reference_by_class"] = {c: ref["macs"][c] for c in CLASSES if ref["macs"][c]}
                d["cnncost_by_class"] = got["macs_by_class"]
            diffs[key] = d
    unknown = {k: v for k, v in got["unknown"].items() if v}
    if unknown:
        return {"outcome": "different", "diffs": diffs, "unknown": unknown}
    return {"outcome": "different", "diffs": diffs} if diffs else {"outcome": "exact"}


def compare_detection(ref: dict, got: dict) -> dict:
    """A whole detection model: params against the whole model's, the known MACs against the
    dense part's (the data-dependent steps are opaque rows, never counted as 0), and opaque rows
    required (their unknown figures named)."""
    dense = ref["parts"]["dense"]
    diffs = {}
    for key, want, have in (("params", ref["params"], got["params"]), ("macs", dense["macs"]["total"], got["macs"])):
        if want != have:
            diffs[key] = {"cnncost": have, "reference": want, "rel": round((have - want) / want, 6) if want else None}
    unknown = {k: v for k, v in got["unknown"].items() if v}
    if not unknown.get("macs") or not unknown.get("saved_bytes"):
        diffs["opaque"] = {"cnncost": 0, "reference": 1, "rel": None}  # a data-dependent step counted as known
    result: dict = {"outcome": "different", "diffs": diffs} if diffs else {"outcome": "exact"}
    result["opaque"] = {k: len(v) for k, v in unknown.items() if k in ("macs", "saved_bytes")}
    result["compared"] = "params (whole model), MACs of the known rows (= the dense part's); saved bytes unknown"
    return result


def _reason_key(line: str) -> str:
    """A refusal line without its module paths, quoted names and numbers: one key per cause."""
    key = line.split("; import with --allow-unknown")[0]  # the advice every refusal ends with
    key = re.sub(r"'[^']*'", "'…'", key)
    key = re.sub(r"\b\d+(x\d+)*\b", "N", key)
    return key[:160]


def _cases(reference: dict) -> list[tuple[str, str, dict]]:
    """(case name, model name, reference record) for every measured model and detection part."""
    cases = []
    for name, rec in reference.items():
        if "error" in rec or "skipped" in rec:
            continue
        cases.append((name, name, rec))
        for part, prec in rec.get("parts", {}).items():
            cases.append((f"{name}/{part}", name, prec))
    return cases


def run_case(kind: str, case: str, name: str, ref: dict) -> dict:
    import torch
    torch.set_num_threads(1)
    mm = _measuring_script()
    if kind == "timm":
        model, inputs, _ = mm.build_timm(name)
        group = "timm"
    else:
        group = mm.torchvision_names()[name]
        model, inputs, _ = mm.build_torchvision(name, group)
    train = ref.get("mode", "train") == "train"
    if "/" in case:  # a detection part: the same module measure_models measured
        part = case.split("/", 1)[1]
        with torch.no_grad():
            batched, _ = model.eval().transform(inputs[0])
        module = _part_module(model, part == "dense")
        shape = tuple(batched.tensors.shape[1:])
        train = ref.get("mode", "train") == "train"
    elif group == "detection":
        module, shape, train = model, tuple(inputs[0][0].shape), False  # one image's shape: the list holds batch
    else:
        module = model
        shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else [tuple(t.shape[1:]) for t in inputs]
    import cnncost
    from cnncost.errors import CnnCostError
    t = time.perf_counter()
    try:
        got = cnncost_figures(module, shape, train)
    except CnnCostError as error:
        line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return {"outcome": "refused", "why": line[:400], "key": _reason_key(line), "seconds": round(time.perf_counter() - t, 2)}
    except Exception as error:  # noqa: BLE001 - a crash is a bug: recorded, the run goes on
        line = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return {"outcome": "crashed", "why": line[:400], "traceback_tail": traceback.format_exc()[-1200:],
                "seconds": round(time.perf_counter() - t, 2)}
    result = compare_detection(ref, got) if group == "detection" and "/" not in case else compare(ref, got)
    if got["round_trip"]:  # the spec written by import -o gives other figures: not exact
        result["outcome"] = "different"
        result.setdefault("diffs", {})["round_trip"] = {"figures": got["round_trip"]}
    result["cnncost"] = {k: got[k] for k in ("params", "macs", "saved_b2", "macs_by_class", "rows")}
    if got["macs_other_types"]:
        result["cnncost"]["macs_other_types"] = got["macs_other_types"]
    result["seconds"] = round(time.perf_counter() - t, 2)
    del cnncost
    return result


def _part_module(model, with_heads: bool):
    from torch import nn

    class Part(nn.Module):
        """measure_models.measure_detection_parts' module: backbone, optionally the dense heads."""

        def __init__(self):
            super().__init__()
            self.backbone = model.backbone
            self.heads = (model.rpn.head if hasattr(model, "rpn") else model.head) if with_heads else None

        def forward(self, t):
            features = self.backbone(t)
            if self.heads is None:
                return features
            return self.heads(list(features.values()) if isinstance(features, dict) else [features])

    return Part()  # from_torch puts it in the mode it imports in


def _child(kind, case, name, ref, out) -> None:
    try:
        rec = run_case(kind, case, name, ref)
    except Exception as error:  # noqa: BLE001 - building failed: recorded
        rec = {"outcome": "crashed", "why": f"{type(error).__name__}: {error}"[:400],
               "traceback_tail": traceback.format_exc()[-1200:]}
    Path(out).write_text(json.dumps(rec, separators=(",", ":")))


def git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    head = git("rev-parse", "HEAD").stdout.strip()
    code = git("log", "-1", "--format=%H", "--", "cnncost").stdout.strip()  # the last commit that changed cnncost/
    dirty = git("status", "--porcelain", "--", "cnncost").stdout.strip() != ""
    return {"commit": head, "cnncost_code_commit": code, "cnncost_tree_modified": dirty}


_GROUPS: dict[str, dict] = {}


def _group(kind: str, case: str) -> str:
    """torchvision: classification, video, ...; detection parts as detection/backbone; timm: 'all'
    (its families are too many for one line)."""
    if kind == "timm":
        return "all"
    if kind not in _GROUPS:
        _GROUPS[kind] = json.loads(REFERENCES[kind].read_text())["models"]
    name, _, part = case.partition("/")
    group = _GROUPS[kind].get(name, {}).get("group", "?")
    return f"{group}/{part}" if part else group


def summary(results: dict) -> str:
    """The table: per fixture, counts by outcome; the differing figures; refusals by cause."""
    lines = []
    for kind, cases in results.items():
        if not cases:
            continue
        counts: dict[str, int] = {}
        for rec in cases.values():
            counts[rec["outcome"]] = counts.get(rec["outcome"], 0) + 1
        total = len(cases)
        lines.append(f"## {kind}: {total} cases")
        for outcome in ("exact", "different", "refused", "no input", "crashed"):
            if outcome in counts:
                lines.append(f"  {outcome:<10} {counts[outcome]:>4}  ({100 * counts[outcome] / total:.1f}%)")
        imported = counts.get("exact", 0) + counts.get("different", 0)
        lines.append(f"  imported   {imported:>4}  ({100 * imported / total:.1f}%), exact {counts.get('exact', 0)}/{imported}")
        by_group: dict[str, dict[str, int]] = {}
        for case, rec in cases.items():
            g = by_group.setdefault(_group(kind, case), {})
            g[rec["outcome"]] = g.get(rec["outcome"], 0) + 1
        lines.append("  by group (exact/imported/cases): " + ", ".join(
            f"{g} {c.get('exact', 0)}/{c.get('exact', 0) + c.get('different', 0)}/{sum(c.values())}"
            for g, c in sorted(by_group.items())))
        diff_fig: dict[str, int] = {}
        conv_linear_only = 0
        for rec in cases.values():
            for fig, d in rec.get("diffs", {}).items():
                diff_fig[fig] = diff_fig.get(fig, 0) + 1
                conv_linear_only += fig == "macs" and bool(d.get("equals_conv_linear_only"))
        if diff_fig:
            lines.append("  differing figures: " + ", ".join(f"{k} {v}" for k, v in sorted(diff_fig.items()))
                         + f" (MACs equal to conv+conv-transpose+linear only, matmul/attention not counted: {conv_linear_only})")
        lines.append("")
        lines.append("  different:")
        for case, rec in cases.items():
            if rec["outcome"] == "different":
                parts = []
                for fig, d in rec["diffs"].items():
                    note = " (= conv+linear only)" if d.get("equals_conv_linear_only") else ""
                    parts.append(f"{fig} {d['cnncost']:,} vs {d['reference']:,} ({d['rel']:+.4%}){note}"
                                 if d["rel"] is not None else f"{fig} {d['cnncost']:,} vs {d['reference']:,}")
                if rec.get("unknown"):
                    parts.append("unknown: " + ", ".join(rec["unknown"]))
                lines.append(f"    {case}: " + "; ".join(parts))
        groups: dict[str, list[str]] = {}
        by_op: dict[str, int] = {}
        for case, rec in cases.items():
            if rec["outcome"] in ("refused", "no input", "crashed"):
                why = rec.get("key") or rec["why"][:160]
                key = f"{rec['outcome']}: {why.split('; import with --allow-unknown')[0]}"
                groups.setdefault(key, []).append(case)
                op = re.match(r"unsupported operation (\S+)", rec["why"])
                op_key = op.group(1) if op else f"{rec['outcome']}: {_reason_key(rec['why'])[:60]}"
                by_op[op_key] = by_op.get(op_key, 0) + 1
        lines.append("")
        lines.append("  refused / no input / crashed, by op: " + ", ".join(
            f"{op} {n}" for op, n in sorted(by_op.items(), key=lambda kv: (-kv[1], kv[0]))))
        lines.append("")
        lines.append("  refused / no input / crashed, by cause (count, cause, models):")
        for key, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            shown = ", ".join(names[:8]) + (f", ... (+{len(names) - 8})" if len(names) > 8 else "")
            lines.append(f"    {len(names):>3}  {key}\n         {shown}")
        lines.append("")
    return "\n".join(lines)


def write_json(path: Path, head: dict, results: dict) -> None:
    """One case per line (diff-friendly), written atomically."""
    lines = ["{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in head.items())
             + ',"results":{']
    kinds = [k for k in results]
    for i, kind in enumerate(kinds):
        lines.append(f"{json.dumps(kind)}:{{")
        items = list(results[kind].items())
        for j, (case, rec) in enumerate(items):
            lines.append(f"{json.dumps(case)}:{json.dumps(rec, separators=(',', ':'))}{',' if j < len(items) - 1 else ''}")
        lines.append("}" + ("," if i < len(kinds) - 1 else ""))
    lines.append("}}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="{torchvision,timm}", help="the fixtures (default: both)")
    parser.add_argument("--only", nargs="+", metavar="CASE")
    parser.add_argument("--resume", action="store_true", help="keep the cases already in the JSON")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per model")
    parser.add_argument("--out", default=str(OUT_JSON))
    parser.add_argument("--table-only", action="store_true", help="rewrite the .txt table from the JSON, run nothing")
    args = parser.parse_args(argv)
    if args.table_only:
        return write_table(Path(args.out))
    kinds = args.kinds or ["torchvision", "timm"]
    if set(kinds) - set(REFERENCES):
        parser.error(f"unknown fixture(s) {sorted(set(kinds) - set(REFERENCES))}: torchvision or timm")
    import timm  # noqa: F401 - imported once, before forking the children
    import torch
    import torchvision  # noqa: F401

    import cnncost  # noqa: F401
    torch.set_num_threads(1)
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    results: dict[str, dict] = {k: dict(old.get("results", {}).get(k, {})) for k in ("torchvision", "timm")}
    head = {"cnncost": git_state(), "conventions": {
        "cnncost": "cnncost.from_torch(model, input=per-sample shape(s), train=mode) then cnncost.table(net, batch=2, "
                   "dtype='fp32', memory='autograd', device='cpu'); MACs per sample = totals.macs / 2",
        "compare": "exact = params, MACs (conv, conv_transpose, linear, matmul, attention) and saved bytes all equal"}}
    ctx = multiprocessing.get_context("fork")
    tmp = out.with_suffix(".child.json")
    for kind in kinds:
        reference = json.loads(REFERENCES[kind].read_text())
        head.setdefault("references", {})[kind] = {"file": REFERENCES[kind].name, "versions": reference["versions"]}
        cases = _cases(reference["models"])
        if args.only:
            cases = [c for c in cases if c[0] in args.only]
        for i, (case, name, ref) in enumerate(cases, 1):
            if args.resume and case in results[kind] and results[kind][case]["outcome"] != "crashed":
                continue
            tmp.unlink(missing_ok=True)
            t = time.perf_counter()
            print(f"[{kind} {i}/{len(cases)}] {case} ...", end=" ", flush=True)
            proc = ctx.Process(target=_child, args=(kind, case, name, ref, str(tmp)))
            proc.start()
            proc.join(args.timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
                rec = {"outcome": "crashed", "why": f"timeout: ran past {args.timeout:.0f} s"}
            elif tmp.exists():
                rec = json.loads(tmp.read_text())
            else:
                rec = {"outcome": "crashed", "why": f"exit {proc.exitcode}"}
            rec["wall_s"] = round(time.perf_counter() - t, 1)
            results[kind][case] = rec
            detail = rec.get("why") or ", ".join(rec.get("diffs", {})) or ""
            print(f"{rec['wall_s']:.0f}s {rec['outcome']} {detail[:150]}", flush=True)
            write_json(out, head, results)
        tmp.unlink(missing_ok=True)
    write_json(out, head, results)
    return write_table(out)


def write_table(out: Path) -> int:
    data = json.loads(out.read_text())
    text = summary(data["results"])
    commit = data["cnncost"]
    out.with_suffix(".txt").write_text(f"cnncost import coverage, commit {commit['commit']} (cnncost/ as of "
                                       f"{commit['cnncost_code_commit']})"
                                       f"{' (tree modified)' if commit['cnncost_tree_modified'] else ''}; "
                                       f"reproduce: benchmarks/import_coverage.py\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
