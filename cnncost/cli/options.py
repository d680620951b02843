"""The command line's parser and the options its commands share, each defined once: the value
types (positive integers, CxHxW, sizes, devices), the architecture argument, the training
configuration, --format, the reading limits and the counting options. A command picks the
options it takes and, where its meaning differs, their default and help. Importing this module
loads nothing beyond the conventions' tables (the cold path)."""
from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any, Callable, NoReturn, Sequence

from ..conventions import ACTIVATION_COUNTS, DTYPE_ALIASES, DTYPE_BYTES, MEMORY_CONVENTIONS, OPTIMIZER_COPIES
from ..conventions import JOB_MODES
from ..counting.names import TOOL_NAMES
from ..errors import CnnCostError, one_line
from ..shapes import parse_named_shape

FORMATS = ("text", "markdown", "csv", "json", "html", "latex")  # every command offers these, or a few
DTYPE_CHOICES = (*DTYPE_BYTES, *DTYPE_ALIASES)
ARCH_METAVAR = "NAME|FILE.yaml|FILE.py:callable"
ARCH_HELP = ("a built-in name (cnncost list), a YAML spec, '-' (a spec on stdin), FILE.py:callable (runs the file: "
             "see docs/spec.md) or a model to import (torchvision:NAME, timm:NAME, package.module:callable, FILE.onnx)")
CHECK_DEVICES = ("cpu", "cuda")
REFUSED_DEVICES = {
    "meta": "meta tensors have shapes but no data or memory: every measured figure would be meaningless",
    "mps": "Apple's MPS backend is not supported: its FLOP counting and memory statistics differ; use cpu",
    "xla": "XLA devices are not supported: use cpu or cuda", "xpu": "XPU devices are not supported: use cpu or cuda",
    "hip": "use 'cuda' for ROCm builds of PyTorch",
}


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line, in the same shape as every other error."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"cnncost: error: {one_line(message)} (see '{one_line(self.prog)} --help')\n")
        raise SystemExit(2)

    def _print_message(self, message: str, file: Any = None) -> None:
        """--help and --version: argparse drops an OSError here (a full disk read as success); it
        reaches `cli.main` instead, which says it in one line (status 2)."""
        if message:
            stream = file or sys.stderr
            try:
                stream.write(message)
                stream.flush()
            except (OSError, ValueError) as error:  # ENOSPC, EBADF, EPIPE, a closed stream
                raise HelpNotWritten(error) from None


class HelpNotWritten(Exception):
    """--help, --version or a usage message could not be written; `error` says why."""

    def __init__(self, error: OSError | ValueError) -> None:
        super().__init__(str(error))
        self.error = error


# --- value types ---

def parse_input(text: str) -> tuple[str | None, tuple[int, ...]]:
    """One --input: '3x224x224', any rank ('3x16x112x112', '196x768', a vector '768x'), '224' (3
    channels, square), or one of several inputs named, 'image1=3x440x1024' -> (name or None, shape)."""
    if len(text) > 200:
        raise argparse.ArgumentTypeError(f"expected a shape like 3x224x224, got {len(text):,} characters (at most 200)")
    try:
        return parse_named_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def input_arguments(value: Any) -> str:
    """--input as given, written back for a command line: ' --input 3x224x224' (a vector: 768x),
    once per input for several; '' for None."""
    def shape_text(shape: tuple[int, ...]) -> str:
        return f"{shape[0]}x" if len(shape) == 1 else "x".join(map(str, shape))
    if not value:
        return ""
    if isinstance(value, dict):
        return "".join(f" --input {name}={shape_text(shape)}" for name, shape in value.items())
    if all(isinstance(v, tuple) for v in value):
        return "".join(f" --input {shape_text(shape)}" for shape in value)
    return f" --input {shape_text(value)}"


class InputAction(argparse.Action):
    """--input, given once (a shape: `args.input` is that tuple; NAME=SHAPE: a mapping) or once per
    input of a net with several: all named (a mapping, name -> shape) or none (a tuple of shapes,
    in the net's input order)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any,
                 option_string: str | None = None) -> None:
        given = list(getattr(namespace, "_input_items", None) or []) + [value]
        namespace._input_items = given
        names = [name for name, _ in given]
        if len(given) == 1:
            name, shape = value
            namespace.input = shape if name is None else {name: shape}
        elif all(n is None for n in names):
            namespace.input = tuple(shape for _, shape in given)
        elif any(n is None for n in names):
            parser.error("argument --input: name every input (NAME=SHAPE) or none when giving several")
        elif len(set(names)) < len(names):
            parser.error(f"argument --input: input '{next(n for n in names if names.count(n) > 1)}' is given twice")
        else:
            namespace.input = dict(given)


def positive_int(text: str) -> int:
    shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
    try:
        value = int(text)
    except ValueError:  # also an int beyond Python's 4,300-digit limit
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{shown}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{shown}'")
    return value


def non_negative_int(text: str) -> int:
    """0 or more (table's --depth: 0 is one row per top-level block)."""
    shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer (0, 1, 2, ...), got '{shown}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer (0, 1, 2, ...), got '{shown}'")
    return value


def device_name(text: str) -> str:
    """cpu, cuda or cuda:N; anything else is refused by name, with the reason."""
    kind, _, index = text.partition(":")
    if kind in CHECK_DEVICES and (not index or (kind == "cuda" and index.isdigit() and len(index) < 6)):
        return text
    reason = REFUSED_DEVICES.get(kind.lower(), "cnncost check runs on cpu or cuda only")
    raise argparse.ArgumentTypeError(f"device '{text}' is refused: {reason}")


def size_limit(text: str) -> int:
    from ..reading import parse_size
    try:
        return parse_size(text)
    except CnnCostError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


# --- options ---

def add_arch(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """The architecture argument (`archs`, one or more, where `many`)."""
    if many:
        parser.add_argument("archs", nargs="+", metavar=ARCH_METAVAR, help=ARCH_HELP)
    else:
        parser.add_argument("arch", metavar=ARCH_METAVAR, help=ARCH_HELP)


def add_batch(parser: argparse.ArgumentParser, default: int = 128, help: str | None = None) -> None:
    parser.add_argument("-b", "--batch", type=positive_int, default=default, help=help or f"images per step (default {default})")


INPUT_HELP = ("; any rank (3x16x112x112; a vector: 768x); a net with several inputs: repeat it, NAME=SHAPE "
              "(--input image1=3x440x1024 --input image2=3x440x1024)")


def add_input(parser: argparse.ArgumentParser, help: str = "input size, e.g. 3x299x299") -> None:
    parser.add_argument("-i", "--input", type=parse_input, action=InputAction, metavar="SHAPE", help=help + INPUT_HELP)


def add_dtype(parser: argparse.ArgumentParser, choices: Sequence[str] = DTYPE_CHOICES, help: str | None = None) -> None:
    """Every dtype and alias (named DTYPE in the usage line), or the few a command runs."""
    metavar = "DTYPE" if tuple(choices) == DTYPE_CHOICES else None
    parser.add_argument("--dtype", default="fp32", choices=choices, metavar=metavar, help=help)


def add_optimizer(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES), help=help)


def add_allow_unknown(parser: argparse.ArgumentParser) -> None:
    """An imported model's unknown operations as opaque nodes (figures named unknown), not an error."""
    parser.add_argument("--allow-unknown", action="store_true",
                        help="keep operations cnncost does not know as opaque nodes (counts marked unknown) "
                             "instead of stopping with an error")


def add_activations(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--activations", default="all", choices=ACTIVATION_COUNTS, help=help)


def add_memory(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--memory", default="lecture", choices=MEMORY_CONVENTIONS, help=help)


def add_device(parser: argparse.ArgumentParser, help: str) -> None:
    """Whose autograd rules the memory model follows (check's --device runs on one instead)."""
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help=help)


def add_torch_version(parser: argparse.ArgumentParser) -> None:
    """The PyTorch release whose autograd rules apply where releases differ (docs/memory.md)."""
    parser.add_argument("--torch-version", dest="torch_version", metavar="VERSION",
                        help="under the autograd memory model: the PyTorch release whose rules apply where releases "
                             "save differently (e.g. 2.14.1; default 2.13, the release the rules were measured on)")


def add_format(parser: argparse.ArgumentParser, *supported: str, help: str | None = None) -> None:
    """--format, with the formats the command renders (all of them when none are named)."""
    choices = tuple(f for f in FORMATS if not supported or f in supported)
    parser.add_argument("-f", "--format", default="text", choices=choices, metavar="FORMAT",
                        help=help or f"{', '.join(choices)} (default text)")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The training configuration of `table` and `compare`."""
    add_batch(parser)
    add_input(parser)
    add_dtype(parser, help=f"{', '.join(DTYPE_BYTES)} (or float32, half, bfloat16, ...); default fp32")
    add_optimizer(parser, help="sets k in k x params: sgd 2, momentum 3, adam/adamw 4 (default adam)")
    add_activations(parser, help="'all' allocated tensors (default), or 'lecture': one tensor per conv/pool/FC row "
                                 "and per top-level block output, as the lecture's tables count")


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    """How much of a spec is read (`cnncost.reading`), how far a net may expand, and whether an
    imported model's unknown operations are opaque nodes (`--allow-unknown`)."""
    add_allow_unknown(parser)
    limits = advanced_group(parser)
    limits.add_argument("--max-spec-bytes", type=size_limit, metavar="SIZE",
                        help="largest spec file read (default 16MiB; env CNNCOST_MAX_SPEC_BYTES)")
    limits.add_argument("--max-yaml-nodes", type=positive_int, metavar="N",
                        help="most YAML nodes, aliases expanded (default 1,000,000; env CNNCOST_MAX_YAML_NODES)")
    limits.add_argument("--max-nodes", type=positive_int, metavar="N",
                        help="most nodes the network may expand to (repeats and templates count every copy)")


def add_mode(parser: argparse.ArgumentParser, help: str) -> None:
    """--mode train|inference: a training step, or an eval pass without autograd (int8 only there)."""
    parser.add_argument("--mode", default="train", choices=JOB_MODES, help=help)


def add_freeze(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--freeze", dest="freeze", action="append", default=[], metavar="PATTERN", help=help)


def add_checkpoint(parser: argparse.ArgumentParser, auto: bool = False) -> None:
    """--checkpoint PATTERN|POLICY (repeatable): activation checkpointing (`cnncost.memory.checkpoint`)."""
    parser.add_argument("--checkpoint", dest="checkpoint", action="append", default=[], metavar="PATTERN",
                        help="run these blocks under torch.utils.checkpoint (non-reentrant): a block path or fnmatch "
                             "pattern ('layer2.1', 'layer3.*'), or a policy over the chain of blocks: all, every:K, "
                             "sqrt (each with an optional :STAGE)" + (", or auto: the cheapest blocks that let the "
                             "largest batch fit" if auto else "") + "; repeatable; needs --memory autograd"
                             * (not auto))
    parser.add_argument("--checkpoint-save", dest="checkpoint_save", type=lambda text: tuple(text.split(",")),
                        default=(), metavar="TYPES", help="selective checkpointing: the checkpointed regions keep the "
                        "outputs of these layer types (conv, linear; comma-separated) and recompute the rest")


def add_counting_options(parser: argparse.ArgumentParser) -> None:
    """--count-as TOOL (`cnncost.counting`) and --freeze PATTERN."""
    parser.add_argument("--count-as", dest="count_as", choices=TOOL_NAMES, metavar="TOOL",
                        help="add a column 'ops': what TOOL reports for each layer and the net, an exact int in its "
                             "own unit (" + ", ".join(TOOL_NAMES) + "; see docs/counting.md)")
    add_freeze(parser, help="layers whose row path matches PATTERN (fnmatch, e.g. 'layer1.*'; repeatable) are "
                            "frozen: no weight gradient in backward_flops / training_flops; under --memory autograd no "
                            "gradients, no optimizer state and nothing saved before the first trainable layer")


def add_accumulate(parser: argparse.ArgumentParser) -> None:
    """--accumulate K: gradient accumulation (`cnncost.memory.accumulate`)."""
    parser.add_argument("--accumulate", type=positive_int, default=1, metavar="K",
                        help="gradient accumulation: K micro-steps per optimizer step, each of --batch samples (the "
                             "batch is the micro-batch; global batch = batch x K); gradients are held from the first "
                             "micro-step's backward to the optimizer step (memory under --memory autograd)")


def add_fit_accumulate(parser: argparse.ArgumentParser) -> None:
    """fit's --accumulate K and --global-batch N (`cnncost.memory.fit.fit_global_batch`)."""
    parser.add_argument("--accumulate", type=positive_int, metavar="K",
                        help="gradient accumulation: the largest micro-batch of a K-micro-step step, and the global "
                             "batch (micro-batch x K)")
    parser.add_argument("--global-batch", dest="global_batch", type=positive_int, metavar="N",
                        help="samples per optimizer step: the fewest micro-steps K whose micro-batch ceil(N/K) fits "
                             "(the last micro-batch takes the rest); K = 1 when N fits in one step")


def add_gpu_memory(parser: argparse.ArgumentParser, budget: bool = False) -> None:
    """The GPU profile whose caching allocator, workspaces and CUDA context the reserved and
    nvidia-smi figures model (cnncost.memory.reserved; issue 19); `budget`: fit's --budget-of."""
    parser.add_argument("--gpu", metavar="PROFILE", help="deprecated: --hardware NAME picks the card for both time "
                        "and memory (h100 = h100-sxm5-80gb, h200 = h200-sxm-141gb, a100-80gb = a100-sxm4-80gb, "
                        "a100-40gb = a100-sxm4-40gb, l4, rtx4090 = rtx-4090, v100 = v100-sxm2-32gb). Under --memory "
                        "autograd on cuda: the GPU profile of the reserved and nvidia-smi figures (modelled), h100 "
                        "by default (docs/memory.md)")
    parser.add_argument("--cuda-context", metavar="SIZE", help="the CUDA context's bytes in the nvidia-smi figure "
                        "(default the profile's, 512MiB)")
    parser.add_argument("--cudnn-workspace", metavar="SIZE", help="a cuDNN workspace around each convolution's "
                        "forward and backward (default 0: not modelled)")
    if budget:
        parser.add_argument("--budget-of", choices=("allocated", "reserved", "nvidia-smi"), default="allocated",
                            help="which figure the budget bounds: allocated (default: the step model's peak, "
                                 "torch.cuda.max_memory_allocated), reserved (the caching allocator's, "
                                 "max_memory_reserved) or nvidia-smi (reserved + the CUDA context: what the card "
                                 "must hold); the last two are modelled, not yet measured on CUDA")


def gpu_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords `cnncost.table` / `fit` take from --gpu, --cuda-context, --cudnn-workspace (and
    --budget-of), where given."""
    out: dict[str, Any] = {}
    for option, key in (("gpu", "gpu"), ("cuda_context", "cuda_context"), ("cudnn_workspace", "cudnn_workspace"),
                        ("budget_of", "budget_of")):
        if getattr(args, option, None) is not None:
            out[key] = getattr(args, option)
    return out


# --- from parsed options to API keywords ---

def counting_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords `cnncost.table` takes from the counting options."""
    return {"count_as": getattr(args, "count_as", None), "freeze": tuple(getattr(args, "freeze", None) or ())}


def graph_kwargs(args: argparse.Namespace, function: Callable[..., Any]) -> dict[str, Any]:
    """`max_nodes` for the API call, where the user gave --max-nodes."""
    if getattr(args, "max_nodes", None) is None:
        return {}
    if "max_nodes" not in inspect.signature(function).parameters:
        raise CnnCostError("--max-nodes is not supported by this version of cnncost's engine")
    return {"max_nodes": args.max_nodes}


# --- several GPUs (cnncost.memory.sharding) ---

SHARDING_CHOICES = ("ddp", "zero1", "zero2", "zero3", "fsdp", "fsdp-grad-op", "hybrid")


def add_parallel(parser: argparse.ArgumentParser) -> None:
    """--world-size, --sharding and the knobs of DDP, hybrid and FSDP: the step per rank."""
    group = parser.add_argument_group("several GPUs (the training step of one rank; --batch is per rank)")
    group.add_argument("--world-size", dest="world_size", type=positive_int, metavar="N",
                       help="ranks of a data-parallel job (default 1: one device; with N > 1 and no --sharding: ddp)")
    group.add_argument("--sharding", choices=SHARDING_CHOICES,
                       help="ddp (PyTorch DistributedDataParallel), zero1/zero2/zero3 (DeepSpeed ZeRO stages), "
                            "fsdp (FULL_SHARD), fsdp-grad-op (SHARD_GRAD_OP), hybrid (HYBRID_SHARD)")
    group.add_argument("--ranks-per-node", dest="ranks_per_node", type=positive_int, metavar="N",
                       help="hybrid: ranks of one node, over which parameters are sharded (default 8)")
    group.add_argument("--gradient-as-bucket-view", dest="gradient_as_bucket_view", action="store_true",
                       help="ddp: gradients are views of the reducer's buckets (else copies: twice the memory)")
    group.add_argument("--ddp-bucket-cap-mb", dest="bucket_cap_mb", type=positive_int, metavar="MIB",
                       help="ddp: gradient bucket cap in MiB, the first bucket's too (default: 25, the first 1 MiB)")
    group.add_argument("--fsdp-unit", dest="fsdp_units", action="append", default=[], metavar="PATTERN",
                       help="fsdp, hybrid: blocks whose path matches PATTERN (fnmatch, repeatable) are FSDP units "
                            "(default: every top-level child of the net)")


def parallel_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The `parallel=` keyword of `cnncost.table` / `cnncost.fit`: {} on one device."""
    world, sharding = getattr(args, "world_size", None), getattr(args, "sharding", None)
    if world is None and sharding is None:
        for flag, value in (("--ranks-per-node", args.ranks_per_node), ("--ddp-bucket-cap-mb", args.bucket_cap_mb),
                            ("--fsdp-unit", args.fsdp_units or None),
                            ("--gradient-as-bucket-view", args.gradient_as_bucket_view or None)):
            if value is not None:
                raise CnnCostError(f"{flag} needs --world-size N (and --sharding)")
        return {}
    out: dict[str, Any] = {"world_size": world or 1, "sharding": sharding or "ddp"}
    for name in ("ranks_per_node", "bucket_cap_mb"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    if args.gradient_as_bucket_view:
        out["gradient_as_bucket_view"] = True
    if args.fsdp_units:
        out["fsdp_units"] = tuple(args.fsdp_units)
    return out


def parallel_argument_text(args: argparse.Namespace) -> str:
    """The several-GPU options as typed, for a 'Same figures: cnncost table ...' line."""
    kwargs = parallel_kwargs(args)
    if not kwargs:
        return ""
    text = f" --world-size {kwargs['world_size']} --sharding {kwargs['sharding']}"
    for name, flag in (("ranks_per_node", "--ranks-per-node"), ("bucket_cap_mb", "--ddp-bucket-cap-mb")):
        if name in kwargs:
            text += f" {flag} {kwargs[name]}"
    text += " --gradient-as-bucket-view" if kwargs.get("gradient_as_bucket_view") else ""
    return text + "".join(f" --fsdp-unit '{p}'" for p in kwargs.get("fsdp_units", ()))


def add_links(parser: argparse.ArgumentParser) -> None:
    """--nodes, --network-bandwidth, --reduce-dtype: several GPUs' communication in the step time."""
    group = parser.add_argument_group("several GPUs' communication (with --world-size and --hardware; docs/time.md)")
    group.add_argument("--nodes", type=positive_int, metavar="N",
                       help="nodes the ranks are spread over, evenly (default 1; hybrid: world size / ranks per node)")
    group.add_argument("--network-bandwidth", dest="network_bandwidth", metavar="RATE",
                       help="between nodes, per GPU and direction: '400Gbit/s' (an NDR InfiniBand NIC per GPU), "
                            "'50GB/s', or bytes/s (default: the profile's network_bandwidth)")
    group.add_argument("--reduce-dtype", dest="reduce_dtype", choices=("fp32", "bf16", "fp16"),
                       help="the dtype gradients travel in (default: the parameters', fp32 under autocast; bf16 or "
                            "fp16: DDP's compression hooks, FSDP's MixedPrecision reduce_dtype)")


def links_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords `cnncost.table` and `cnncost.fit` take from --nodes, --network-bandwidth, --reduce-dtype."""
    out = {k: getattr(args, k, None) for k in ("nodes", "network_bandwidth", "reduce_dtype")}
    if out["network_bandwidth"] is not None and out["network_bandwidth"].isdigit():
        out["network_bandwidth"] = int(out["network_bandwidth"])
    return {k: v for k, v in out.items() if v is not None}


def non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text[:40]}'") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got '{text[:40]}'")
    return value


def add_hardware(parser: argparse.ArgumentParser) -> None:
    """The time model (docs/time.md): a hardware profile, an epoch's images, a price per hour."""
    parser.add_argument("--hardware", metavar="NAME|FILE",
                        help="add the time model on this hardware: a built-in profile (cnncost hardware) or a "
                             "profile file (cnncost calibrate --out FILE): per-row forward/backward time and bound, "
                             "step time and images/s")
    parser.add_argument("--epoch-images", dest="epoch_images", type=positive_int, metavar="N",
                        help="with --hardware: the time of an epoch of N images")
    parser.add_argument("--price-per-hour", dest="price_per_hour", type=non_negative_number, metavar="USD",
                        help="with --hardware and --epoch-images: the epoch's cost at this price per hour")


def add_time_profile(parser: argparse.ArgumentParser, help: str) -> None:
    """--hardware alone (sweep, fit, search): the time model on a profile, without an epoch's figures."""
    parser.add_argument("--hardware", metavar="NAME|FILE", help=help)


def hardware_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords `cnncost.table` takes from the time options (none where not given)."""
    names = ("hardware", "epoch_images", "price_per_hour")
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
# --- the time limit (issue 21) ---

def timeout_seconds(text: str) -> float:
    from ..guard import parse_seconds
    try:
        return parse_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0 (0: no limit), got '{text}'") from None


def add_timeout(parser: argparse.ArgumentParser) -> None:
    """--timeout: the time limit on the whole command (user code, tracing, computing)."""
    from ..guard import DEFAULT_TIMEOUT, TIMEOUT_ENV
    advanced_group(parser).add_argument("--timeout", type=timeout_seconds, default=None, metavar="SECONDS",
                        help=f"stop after SECONDS (default {TIMEOUT_ENV} or {DEFAULT_TIMEOUT:g}; 0: no limit); "
                             "covers running a Python spec or a model's forward and tracing it")


def add_csv_safe(parser: argparse.ArgumentParser) -> None:
    """--csv-safe: neutralise spreadsheet formulas in --format csv (off by default: data round-trips)."""
    advanced_group(parser).add_argument("--csv-safe", action="store_true",
                        help="with --format csv: prefix an apostrophe to every text cell a spreadsheet would "
                             "run as a formula (=, +, -, @, TAB, CR first); off by default, so that names "
                             "read back exactly (docs/output.md)")


# --- one CLI (issue 22): -o FILE everywhere, the advanced group ---

ADVANCED_TITLE = "advanced (limits and safety; the defaults suit most uses)"


def advanced_group(parser: argparse.ArgumentParser) -> Any:
    """The argument group of the hardening limits (--timeout, --max-..., --csv-safe), one per
    command; `cli.build_parser` moves it last in --help."""
    for group in parser._action_groups:
        if group.title == ADVANCED_TITLE:
            return group
    return parser.add_argument_group(ADVANCED_TITLE)


def add_out(parser: argparse.ArgumentParser, help: str = "write the result to FILE instead of stdout (whole or "
            "not at all: a temporary file renamed over FILE); '-' is stdout") -> None:
    """-o/--out FILE: where the result goes (`cli._run` writes it; import and calibrate write their own)."""
    parser.add_argument("-o", "--out", dest="out", metavar="FILE", help=help)

class ColumnsAction(argparse.Action):
    """--columns NAMES: the names, split at commas; `--columns help` prints them all and exits 0."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from ..columns import column_names, columns_help
        names = column_names(values)
        if names == ("help",):
            parser._print_message(columns_help() + "\n", sys.stdout)
            parser.exit()
        setattr(namespace, self.dest, names)


def add_columns(parser: argparse.ArgumentParser, what: str = "the table") -> None:
    """--columns: which columns the human formats and CSV show (JSON keeps every figure)."""
    from ..columns import COLUMNS, ROW_IDENTITY
    names = ", ".join([*list(ROW_IDENTITY)[1:], *(c.name for c in COLUMNS.values() if c.per_row and not c.per_image_only)])
    parser.add_argument("--columns", action=ColumnsAction, metavar="NAMES",
                        help=f"comma-separated columns of {what} to show, in that order (text, markdown, html, latex, "
                             f"csv): {names}; '--columns help' says what each holds")


def columns_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """`columns=` for the API where --columns was given; refused with JSON, which keeps every figure."""
    columns = getattr(args, "columns", None)
    if columns is None:
        return {}
    if getattr(args, "format", None) == "json":
        raise CnnCostError("--columns chooses the columns of a table or CSV; JSON keeps every figure")
    return {"columns": columns}
