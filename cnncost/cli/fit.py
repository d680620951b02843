"""`cnncost fit ARCH --budget SIZE`: the largest batch whose training step (or inference pass)
fits, with the breakdown at that batch; exit status 1 when not even one sample fits."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError, one_line
from .arch import resolve_arch
from .progress import note, stage
from .options import add_arch, add_device, add_dtype, add_format, add_input, add_optimizer, add_reading_options, graph_kwargs, input_arguments
from .options import add_torch_version
from .options import add_parallel, parallel_argument_text, parallel_kwargs
from .options import add_fit_accumulate, add_freeze
from .options import add_gpu_memory, gpu_kwargs
from .options import add_checkpoint
from .options import add_time_profile
from .options import add_links, links_kwargs

BUDGET_DEPRECATED = ("cnncost: note: --memory in fit is deprecated; until it is removed it keeps its old meaning, "
                     "kB, MB, GB, TB = 2^10, 2^20, 2^30, 2^40 B{read}; use --budget, "
                     "where GB = 10^9 B and GiB = 2^30 B\n")
# --memory's old units: binary whatever the spelling (a CI script's answer must not change silently)
_OLD_BINARY_UNITS = {"kb": "KiB", "mb": "MiB", "gb": "GiB", "tb": "TiB"}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("fit", help="largest batch whose PyTorch training step fits in memory",
                                 description="Largest batch whose training step (autograd memory model: "
                                 "parameters, gradients, optimizer state, saved activations) fits, with the "
                                 "breakdown at that batch (e.g. cnncost fit vgg16 --budget 80GiB --dtype bf16). "
                                 "Sizes take SI or IEC units: GB = 10^9 bytes, GiB = 2^30 bytes.")
    add_arch(parser)
    parser.add_argument("--budget", metavar="SIZE",
                        help="memory budget with a unit: 80GB = 80*10^9 B, 80GiB = 80*2^30 B; kB, MB, GB, TB are "
                             "decimal (10^3, 10^6, 10^9, 10^12), KiB, MiB, GiB, TiB binary (2^10 ... 2^40); "
                             "case-insensitive; fractions allowed (1.5TB). Note: GB used to mean 2^30 here")
    parser.add_argument("--memory", dest="memory_deprecated", metavar="SIZE", help=argparse.SUPPRESS)
    add_input(parser)
    add_dtype(parser, choices=("bf16", "fp16", "fp32", "tf32", "fp64", "int8"),
              help="fp32 (default); bf16/fp16 = autocast with fp32 master weights; tf32 = fp32 in memory; int8 "
                   "(--mode inference only): weights and activations in 1 byte")
    add_optimizer(parser)
    parser.add_argument("--mode", default="train", choices=("train", "inference"))
    add_device(parser, help="whose autograd rules (dropout's mask differs; default cuda)")
    add_torch_version(parser)
    add_gpu_memory(parser, budget=True)
    # --- time (issue 20): the throughput of the batch found ---
    add_time_profile(parser, help="also the time model's training step at the batch found on this hardware profile "
                                  "(built-in name or file): step seconds and images/s, expected and roofline bound")
    # --- end time ---
    add_format(parser, "text", "markdown", "json")
    add_reading_options(parser)
    add_parallel(parser)
    add_links(parser)
    # --- freeze and accumulate ---
    add_freeze(parser, help="layers whose row path matches PATTERN (fnmatch, e.g. 'layer1.*'; repeatable) are frozen: "
                            "no gradients, no optimizer state, nothing saved before the first trainable layer")
    add_fit_accumulate(parser)
    # --- end freeze and accumulate ---
    add_checkpoint(parser, auto=True)
    parser.set_defaults(run=run)


def _budget(args: argparse.Namespace) -> str:
    """--budget, or the deprecated --memory (one note on stderr)."""
    budget: str | None = getattr(args, "budget", None)
    old: str | None = getattr(args, "memory_deprecated", None)
    if budget is not None and old is not None:
        raise CnnCostError("give --budget only (--memory is its deprecated name)")
    if budget is None and old is None:
        raise CnnCostError("fit needs --budget SIZE, e.g. --budget 80GB (80*10^9 B) or --budget 80GiB (80*2^30 B)")
    if budget is None and old is not None:
        import re
        match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]{2})\s*", old)
        binary = (match.group(1) + _OLD_BINARY_UNITS[match.group(2).lower()]
                  if match and match.group(2).lower() in _OLD_BINARY_UNITS else old)
        read = f" (read here as {one_line(binary)})" if binary != old else ""
        note(BUDGET_DEPRECATED.format(read=read))
        return binary
    return budget or ""  # not None: both missing raised above


def run(args: argparse.Namespace) -> tuple[str, int]:
    from ..api import fit
    from ..conventions import SCHEMA_VERSION
    from ..errors import int_text
    from ..formatting import breakdown_table, dumps
    from ..units import size_text
    budget = _budget(args)
    net = resolve_arch(args, args.arch)
    stage("searching the largest batch that fits")
    parallel_kw: dict[str, Any] = {"parallel": parallel_kwargs(args)} if parallel_kwargs(args) else {}
    checkpoint_kw: dict[str, Any] = {"checkpoint": tuple(args.checkpoint)} if getattr(args, "checkpoint", None) else {}
    result = fit(net, budget, dtype=args.dtype, optimizer=args.optimizer, input=args.input,
                 mode=args.mode, device=args.device, torch_version=args.torch_version, **graph_kwargs(args, fit),
                 **parallel_kw,
                 **_freeze_accumulate_kwargs(args), **gpu_kwargs(args),
                 **checkpoint_kw,
                 **({"checkpoint_save": args.checkpoint_save} if getattr(args, "checkpoint_save", None) else {}),
                 **_time_kwargs(args),
                 **links_kwargs(args))
    name, fits = result.architecture, 0 if result.batch else 1  # exit 1: not even one sample fits
    setting = f"{args.dtype}, {args.optimizer}, train" if args.mode == "train" else f"{args.dtype}, inference"
    step = {"mode": args.mode, "peak_bytes": result.peak_bytes, "phase": result.peak.phase,
            "breakdown": result.breakdown}
    extra = _freeze_accumulate_record(args, result)  # --freeze / --accumulate / --global-batch: {} otherwise
    setting += _freeze_accumulate_setting(args, extra)
    parallel = _parallel(result)  # several GPUs: the batch is per rank (outputs/parallel.py)
    ranks = result.step.setup.world_size if parallel else 1
    if parallel:  # samples per optimizer step over all ranks
        extra |= {"global_batch": result.samples_per_step * ranks, "communication": parallel[0]}
    bound = ""  # the modelled GPU figures at the batch found; the budget may bound one (--budget-of; issue 19)
    if result.device is not None:
        from ..memory.reserved import device_record
        step |= device_record(result.device)
    if result.budget_of != "allocated":
        shown_of = {"reserved": "reserved bytes", "nvidia-smi": "nvidia-smi figure"}[result.budget_of]
        bound = f" (bounding the {shown_of}, {result.device.status})"
    checkpointing = _checkpointing(result, args)
    if checkpointing:
        extra["checkpoint"] = checkpointing
    if args.format == "json":
        return dumps({"schema_version": SCHEMA_VERSION, "architecture": name, "budget_bytes": result.budget,
                      "budget": result.budget_text, "budget_of": result.budget_of, "batch": result.batch,
                      "dtype": args.dtype, "optimizer": args.optimizer, "mode": args.mode, "training_step": step,
                      **extra, **_time_record(result)}), fits
    shown = one_line(name)
    units = "Units: kB, MB, GB = 10^3, 10^6, 10^9 B; KiB, MiB, GiB = 2^10, 2^20, 2^30 B."
    if result.batch == 0:
        return (f"{shown}: not even batch 1 fits in budget {result.budget_shown}{bound} ({setting}); "
                f"batch 1 needs {size_text(result.peak_bytes)}\n\n" + breakdown_table(step, args.format)
                + f"\n\n{units}"), fits
    how = f"--optimizer {args.optimizer} --memory autograd" if args.mode == "train" else "--mode inference"
    same = (f"\n\nSame figures: cnncost table {one_line(args.arch)} --batch {result.batch} --dtype {args.dtype} {how}"
            + (f" --device {args.device}" if args.device != "cuda" else "")
            + (f" --torch-version {args.torch_version}" if args.torch_version else "")
            + input_arguments(args.input)
            + (parallel_argument_text(args) + _freeze_accumulate_arguments(args, result)
               + "".join(f" --checkpoint {r}" for r in (checkpointing or {}).get("regions", ()))
               + (f" --checkpoint-save {','.join(args.checkpoint_save)}" if getattr(args, "checkpoint_save", None) else "")
               if args.mode == "train" else ""))
    caveat = ("\n\nNo headroom is included for the CUDA context (about 0.3-1 GB), cuDNN workspaces or "
              "allocator fragmentation: give --budget a margin below the card's capacity, or bound the modelled "
              f"figures with --budget-of reserved|nvidia-smi. {units}")
    if result.budget_of != "allocated":
        caveat = f"\n\n{units}"
    if result.device is not None:
        caveat = (f"\n\nAt batch {int_text(result.batch)}: reserved {size_text(result.device.peak_reserved)}, "
                  f"nvidia-smi {size_text(result.device.nvidia_smi)} (reserved + CUDA context "
                  f"{size_text(result.device.context)}; {result.device.device}) [{result.device.status}]." + caveat)
    footer = "".join(f"\n\n{line}" for line in parallel[1:])
    if "accumulate" in extra:
        per_rank = f" per rank ({extra['global_batch']:,} over all ranks)" if parallel else ""
        return (f"{shown}: {_accumulation_answer(result)}{per_rank} in budget {result.budget_shown} "
                f"({setting}; peak {size_text(result.peak_bytes)})\n\n"
                + breakdown_table(step, args.format) + footer + _checkpoint_text(checkpointing, result.accumulate) + _time_lines(result)
                + same + caveat), 0
    per_rank = f" per rank (global batch {extra['global_batch']:,})" if parallel else ""
    return (f"{shown}: largest batch that fits in budget {result.budget_shown}{bound}: {int_text(result.batch)}{per_rank} "
            f"({setting}; peak {size_text(result.peak_bytes)})\n\n"
            + breakdown_table(step, args.format) + footer + _checkpoint_text(checkpointing, result.accumulate) + _time_lines(result)
            + same + caveat), 0


def _parallel(result: Any) -> tuple:
    """(the communication object, footer lines) of a fit on several GPUs; () on one device."""
    from ..outputs.parallel import communication_record, parallel_lines
    batch = max(result.batch, 1)
    record = communication_record(result.step, batch)
    return (record, *parallel_lines(result.step, batch)) if record is not None else ()


# --- freeze and accumulate (issue 19 items 2, 3) ---

def _freeze_accumulate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    if args.accumulate is not None and args.global_batch is not None:
        raise CnnCostError("give --accumulate or --global-batch, not both")
    out: dict[str, Any] = {}
    if args.freeze:
        out["freeze"] = tuple(args.freeze)
    if args.accumulate is not None:
        out["accumulate"] = args.accumulate
    if args.global_batch is not None:
        out["global_batch"] = args.global_batch
    return out


def _freeze_accumulate_record(args: argparse.Namespace, result: Any) -> dict[str, Any]:
    """JSON fields: freeze (the patterns); accumulate, micro_batch, last_micro_batch, global_batch."""
    out: dict[str, Any] = {}
    if args.freeze:
        out["freeze"] = list(args.freeze)
    if args.accumulate is not None or args.global_batch is not None:
        out |= {"accumulate": result.accumulate, "micro_batch": result.batch,
                "last_micro_batch": result.last_micro_batch if result.batch else 0,
                "global_batch": result.samples_per_step}
    return out


def _freeze_accumulate_setting(args: argparse.Namespace, extra: dict[str, Any]) -> str:
    return f"; frozen: {', '.join(extra['freeze'])}" if "freeze" in extra else ""


def _accumulation_answer(result: Any) -> str:
    """'largest micro-batch that fits: 86 (x 4 micro-steps = global batch 344)' and the like."""
    from ..errors import int_text
    if result.global_batch is None:
        return (f"largest micro-batch that fits: {int_text(result.batch)} (x {result.accumulate} micro-step{'s' if result.accumulate > 1 else ''} = "
                f"global batch {int_text(result.samples_per_step)})")
    if result.accumulate == 1:
        return f"global batch {int_text(result.global_batch)} fits in one step, no accumulation needed,"
    last = (f", the last micro-batch {int_text(result.last_micro_batch)}"
            if result.last_micro_batch != result.batch else "")
    return (f"global batch {int_text(result.global_batch)} fits as micro-batch {int_text(result.batch)} x "
            f"{result.accumulate} micro-steps{last},")


def _freeze_accumulate_arguments(args: argparse.Namespace, result: Any) -> str:
    """The options `table` needs to show the same step."""
    text = "".join(f" --freeze '{p}'" for p in args.freeze)
    if result.accumulate > 1:
        text += f" --accumulate {result.accumulate}"
    return text


def _checkpointing(result: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """What --checkpoint did: its regions and their recompute FLOPs per step (None without it)."""
    return result.checkpoint_record() if getattr(args, "checkpoint", None) else None


def _checkpoint_text(checkpointing: dict[str, Any] | None, accumulate: int = 1) -> str:
    if not checkpointing:
        return ""
    from ..formatting import si
    regions = checkpointing["regions"]
    shown = ", ".join(regions) if len(regions) <= 12 else ", ".join(regions[:12]) + f", ... ({len(regions)} in all)"
    return (f"\n\nCheckpointed ({checkpointing['policy']}): {shown or 'none needed'}; recompute "
            f"{si(checkpointing['recompute_flops'])}FLOPs per {'micro-step' if accumulate > 1 else 'step'}; saved for backward {checkpointing['saved_bytes']:,} B")


# --- time (issue 20): fit --hardware ---

def _time_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"hardware": args.hardware} if getattr(args, "hardware", None) else {}


def _time_record(result: Any) -> dict[str, Any]:
    """JSON: `timing`, table's object at the batch found (docs/output.md); absent without --hardware."""
    return {"timing": result.timing.to_dict()} if result.timing is not None else {}


def _time_lines(result: Any) -> str:
    """'Throughput at batch 1,924 on a100-sxm4-80gb: step 412 ms = 4,670.2 images/s expected (...)'."""
    from ..formatting import duration, grouped
    timing = result.timing
    if timing is None:
        return ""
    e, b = timing.expected, timing.bound
    # accumulation: K micro-steps' passes then one optimizer pass; checkpointing: the recompute in backward
    at = (f"{grouped(timing.batch)} samples per step ({e.micro_steps} micro-steps)" if e.micro_steps > 1
          else f"batch {grouped(result.batch)}")
    again = f", recompute {duration(e.recompute_seconds)} of it" if e.recompute_seconds else ""
    from ..outputs.comm_time import footer_lines, phase_part, summary_part
    ranks, _ = summary_part(timing)  # several GPUs: per rank and over all ranks; communication's lines
    lines = "".join(f"\n{line}" for line in footer_lines(timing))
    return (f"\n\nThroughput at {at} on {timing.hardware} ({timing.dtype}): step "
            f"{duration(e.step_seconds)} = {e.images_per_second:,.1f} images/s{ranks} expected, mostly {e.bound}-bound "
            f"(forward {duration(e.forward_seconds)} + backward {duration(e.backward_seconds)}{again} + optimizer "
            f"{duration(e.optimizer_seconds)}{phase_part(e)}); roofline bound {duration(b.step_seconds)} = "
            f"{b.images_per_second:,.1f} images/s (docs/time.md){lines}")
# --- end time ---
