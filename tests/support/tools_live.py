"""Run the peer FLOP counters on a real model and return their totals (for test_counting.py's
re-measurement, where the tools are installed: torch 2.14.1, fvcore, ptflops, thop, torchinfo,
torchscan; tests/fixtures/measure_tools.py has the versions). Each tool gets a deep copy of the
model in eval mode and a batch-1 input, as measure_tools.py runs them.
`assert_tools_count_as_their_conventions`: every tool's figures on a module equal that tool's
convention in cnncost.counting."""
from __future__ import annotations

import contextlib
import copy
import io
import warnings


def available() -> bool:
    try:
        import fvcore.nn  # noqa: F401
        import ptflops  # noqa: F401
        import thop  # noqa: F401
        import torchinfo  # noqa: F401
        import torchscan  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Skips the calling test where the peer tools are not installed."""
    import pytest
    if not available():
        pytest.skip("the peer tools are not installed (see tests/fixtures/measure_tools.py for the side venv)")


def _flopcounter(model, shape, x):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(x)
    return {"flopcounter": int(counter.get_total_flops())}


def _fvcore(model, shape, x):
    from fvcore.nn import FlopCountAnalysis
    analysis = FlopCountAnalysis(model.eval(), (x,))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return {"fvcore": int(analysis.total())}


def _ptflops(backend, name):
    def run(model, shape, x):
        import ptflops
        macs, params = ptflops.get_model_complexity_info(model, tuple(shape), as_strings=False,
                                                         print_per_layer_stat=False, verbose=False, backend=backend)
        if macs is None:
            raise RuntimeError(f"ptflops ({backend}) failed")
        return {name: int(macs), f"{name}.params": int(params)}
    return run


def _thop(model, shape, x):
    import thop
    macs, params = thop.profile(model, inputs=(x,), verbose=False)
    return {"thop": int(macs), "thop.params": int(params)}


def _torchinfo(model, shape, x):
    import torchinfo
    summary = torchinfo.summary(model, input_size=(1, *shape), mode="eval", verbose=0)
    return {"torchinfo": int(summary.total_mult_adds), "torchinfo.params": int(summary.trainable_params),
            "torchinfo.input_bytes": int(summary.total_input),
            "torchinfo.forward_backward_pass_bytes": int(summary.total_output_bytes),
            "torchinfo.params_bytes": int(summary.total_param_bytes)}


def _torchscan(model, shape, x):
    import torchscan
    totals = torchscan.crawl_module(model, tuple(shape))["totals"]
    return {"torchscan": int(totals["module_flops"]["known_value"] or 0),
            "torchscan-macs": int(totals["macs"]["known_value"] or 0),
            "torchscan.params": int(totals["parameters"]["value"])}


RUNNERS = {"flopcounter": _flopcounter, "fvcore": _fvcore, "ptflops": _ptflops("pytorch", "ptflops"),
           "ptflops-aten": _ptflops("aten", "ptflops-aten"), "thop": _thop, "torchinfo": _torchinfo,
           "torchscan": _torchscan}


def measure(model, shape: tuple[int, ...], errors: dict[str, str] | None = None) -> dict[str, int]:
    """Every tool's total (and some of its other figures) for one batch-1 forward in eval mode. A
    tool that raises is left out, with its message in `errors` when given."""
    import torch
    out: dict[str, int] = {}
    for tool, run in RUNNERS.items():
        torch.manual_seed(0)
        x = torch.randn(1, *shape)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.update(run(copy.deepcopy(model), shape, x))
            except Exception as error:  # one tool's failure is a result, not the end
                if errors is not None:
                    errors[tool] = f"{type(error).__name__}: {error}"
    return out


def assert_tools_count_as_their_conventions(net, model=None, shape: tuple[int, ...] | None = None, *,
                                            every_tool: bool = False, sizes: bool = False) -> dict[str, int]:
    """Every tool's total and parameter count, measured live on `model` (default: cnncost's own torch
    build of `net`) at `shape` (default: the net's input), equal that tool's convention on `net`
    under the 'cnncost' profile; `sizes`: torchinfo's byte sizes too (else they are not compared);
    `every_tool`: no tool may fail. Fails naming every figure that differs; returns the measured ones."""
    from cnncost.counting.tools import ops, tool_params, torchinfo_sizes
    from cnncost.graph import compile
    if model is None:
        from cnncost.torch_backend import build
        model = build(net)
    g = compile(net)
    errors: dict[str, str] = {}
    measured = measure(model, tuple(net.input) if shape is None else shape, errors)
    assert not (every_tool and errors), errors
    wrong = []
    for key, value in measured.items():
        tool, _, what = key.partition(".")
        if what == "params":
            ours = tool_params(g, tool, "cnncost")
        elif not what:
            ours = ops(g, tool, 1, "cnncost").total
        elif sizes:
            ours = torchinfo_sizes(g, 1, "cnncost")[what]
        else:
            continue
        if ours != value:
            wrong.append(f"{net.name} {key}: ours {ours}, the tool's {value}")
    assert not wrong, "\n".join(wrong)
    return measured
