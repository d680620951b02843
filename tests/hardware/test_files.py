"""User profiles in YAML: read with the safe loader, written back exactly, bad ones refused in one line."""
from __future__ import annotations

import pytest

from cnncost.cli import main
from cnncost.errors import CnnCostError
from cnncost.hardware import builtin_profiles, load_profile, profile_yaml
from cnncost.hardware.builtin import ACHIEVABLE, LAUNCH_NS
from cold_process import cold_run  # tests/support

MINIMAL = """\
name: my-gpu
vendor_name: My GPU 9000
kind: gpu
matrix: {bf16: 312T, fp16: 312000000000000}
vector: {fp32: 19.5 TFLOPS}
memory_bandwidth: 2039 GB/s
memory_bytes: 80GiB
"""


def write(tmp_path, text, name="profile.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", list(builtin_profiles()))
def test_every_builtin_profile_round_trips_exactly(tmp_path, name):
    profile = builtin_profiles()[name]
    path = write(tmp_path, profile_yaml(profile, header="a comment\nover two lines"))
    again = load_profile(path)
    assert again == profile and again.sources == profile.sources and again.achievable == profile.achievable
    assert profile_yaml(again) == profile_yaml(profile)
    assert load_profile(str(path)) == profile


def test_a_minimal_user_profile_gets_the_documented_defaults(tmp_path):
    profile = load_profile(write(tmp_path, MINIMAL))
    assert profile.origin == "user" and profile.kind == "gpu" and profile.name == "my-gpu"
    assert dict(profile.matrix) == {"fp16": 312 * 10**12, "bf16": 312 * 10**12}
    assert dict(profile.vector) == {"fp32": 19_500_000_000_000}
    assert profile.memory_bandwidth == 2_039_000_000_000 and profile.memory_bytes == 80 * 2**30
    assert profile.launch_overhead_ns == LAUNCH_NS and dict(profile.achievable) == ACHIEVABLE
    assert profile.missing_sources()  # a user need not cite anything
    assert load_profile(write(tmp_path, profile_yaml(profile), "again.yaml")) == profile


def test_odd_but_exact_values_round_trip(tmp_path):
    text = MINIMAL + ("achievable: {matmul: 0.1, conv: 1.0e-05, depthwise: 1, vector: 0.3333333333333333}\n"
                      "measured: {copy: 12345, \"matmul.fp32.large\": 7}\n"
                      "sources: {\"matrix.bf16\": \"a line with \\\"quotes\\\", a colon: and # hash\"}\n"
                      "notes: \"caf\\u00e9\\nsecond line\"\nlaunch_overhead_ns: 7\n")
    profile = load_profile(write(tmp_path, text))
    assert profile.achievable["conv"] == 1e-05 and profile.achievable["depthwise"] == 1.0
    assert profile.sources["matrix.bf16"] == 'a line with "quotes", a colon: and # hash'
    assert profile.notes == "café\nsecond line" and profile.measured == {"copy": 12345, "matmul.fp32.large": 7}
    assert load_profile(write(tmp_path, profile_yaml(profile), "again.yaml")) == profile


BAD = [
    ("name: [x\n", "invalid YAML"),
    ("- a\n- b\n", "a hardware profile is a mapping of fields"),
    (MINIMAL + "bandwith: 5\n", "field 'bandwith': unknown field"),
    (MINIMAL.replace("memory_bytes: 80GiB\n", ""), "field 'memory_bytes': missing"),
    (MINIMAL.replace("2039 GB/s", "-5"), "field 'memory_bandwidth': expected a positive whole number, got -5"),
    (MINIMAL.replace("2039 GB/s", "fast"), "field 'memory_bandwidth': expected a whole number per second"),
    (MINIMAL.replace("80GiB", "80 parsecs"), "field 'memory_bytes': expected a memory size"),
    (MINIMAL.replace("bf16: 312T", "fp8: 312T"), "field 'matrix.fp8': unknown dtype"),
    (MINIMAL.replace("bf16: 312T", "bf16: 0"), "field 'matrix.bf16': expected a positive whole number"),
    (MINIMAL.replace("bf16: 312T", "bf16: 0.5"), "field 'matrix.bf16': expected a whole number per second"),
    (MINIMAL.replace("kind: gpu", "kind: tpu"), "field 'kind': expected one of gpu, cpu"),
    (MINIMAL.replace("name: my-gpu", "name: My GPU"), "field 'name'"),
    (MINIMAL + "achievable: {conv: 1.5}\n", "field 'achievable.conv': expected a fraction in (0, 1]"),
    (MINIMAL + "achievable: {conv: fast}\n", "field 'achievable.conv': expected a fraction"),
    (MINIMAL + "achievable: {attention: 0.5}\n", "field 'achievable.attention': unknown op class"),
    (MINIMAL + "matrix_: 1\n", "unknown field"),
    (MINIMAL.replace("matrix: {bf16: 312T, fp16: 312000000000000}", "matrix: 5"), "field 'matrix': expected a mapping"),
    (MINIMAL + "sources: {memory_bytes: 5}\n", "field 'sources.memory_bytes': expected a non-empty text"),
    (MINIMAL + "launch_overhead_ns: !!python/object:os.system x\n", "tag"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_profile_is_one_line_naming_the_file_and_the_field(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CnnCostError) as error:
        load_profile(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert main(["hardware", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"cnncost: error: {path}: ") and message in err


def test_an_unknown_name_lists_the_built_in_names(capsys):
    with pytest.raises(CnnCostError) as error:
        load_profile("a100")
    text = str(error.value)
    assert "unknown hardware 'a100' (did you mean a100-sxm4-80gb, a100-sxm4-40gb" in text
    assert "built-in: " + ", ".join(builtin_profiles()) in text and "cnncost calibrate --out FILE" in text
    assert main(["hardware", "no-such-gpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cnncost: error: unknown hardware 'no-such-gpu'")
    assert main(["hardware", "missing.yaml"]) == 2
    assert capsys.readouterr().err.startswith("cnncost: error: missing.yaml: ")


def test_the_hardware_command_lists_and_shows_profiles(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["name", "part", "fp32", "tf32", "fp16", "bf16", "int8", "GB/s", "GiB", "NVLink",
                                "PCIe"]
    row = next(line for line in lines if line.startswith("h100-sxm5-80gb")).split()
    assert row[-9:] == ["67.0", "494.5", "989.5", "989.5", "1,979.0", "3,350", "80", "450", "Gen5"]
    assert next(line for line in lines if line.startswith("v100-sxm2-16gb")).split()[-9:] == \
        ["15.7", "-", "125.0", "-", "-", "900", "16", "150", "Gen3"]
    assert next(line for line in lines if line.startswith("t4")).split()[-2:] == ["-", "Gen3"]
    assert main(["hardware", "h100*"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:4]] == ["h100-sxm5-80gb", "h100-pcie-80gb"]
    assert main(["hardware", "l4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("l4: NVIDIA L4 (gpu, datasheet)") and "NVIDIA L4 Tensor Core GPU datasheet" in out
    assert main(["hardware", "t4", "--format", "json"]) == 0
    import json
    record = json.loads(capsys.readouterr().out)
    assert record["matrix"] == {"fp16": 65 * 10**12, "int8": 130 * 10**12} and record["memory_bytes"] == 16 * 2**30
    assert main(["hardware", "--format", "json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)["profiles"]] == list(builtin_profiles())


def test_built_in_profiles_need_no_yaml_and_tables_no_hardware():
    modules = ("yaml", "torch", "cnncost.hardware", "cnncost.safe_yaml")
    assert cold_run(["hardware", "a100-sxm4-80gb"], modules)[0] == ["cnncost.hardware"]
    assert cold_run(["table", "resnet152"], modules)[0] == []
