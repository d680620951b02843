"""The job in one object (issue 19 item 5 of the follow-up): `cnncost.Setup` given as `setup=` to
table, fit and sweep stands for their job keywords, with the same figures; given beside them it is
refused in one line."""
import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.memory.setup import Setup as ModelSetup

JOBS = [  # (Setup keywords, the table/fit keywords it stands for)
    ({"optimizer": "adamw", "accumulate": 4, "checkpoint": ["sqrt"]},
     {"optimizer": "adamw", "accumulate": 4, "checkpoint": ["sqrt"]}),
    ({"optimizer": "sgd", "freeze": ("layer1.*",), "checkpoint": ("layer3.*",), "checkpoint_save": ("conv",)},
     {"optimizer": "sgd", "freeze": ["layer1.*"], "checkpoint": "layer3.*", "checkpoint_save": ["conv"]}),
    ({"optimizer": "adam", "world_size": 8, "sharding": "fsdp", "fsdp_units": ["layer*"]},
     {"parallel": {"world_size": 8, "sharding": "fsdp", "fsdp_units": ("layer*",)}}),
    ({"optimizer": "momentum", "world_size": 2, "sharding": "ddp", "gradient_as_bucket_view": True},
     {"optimizer": "momentum", "parallel": {"world_size": 2, "sharding": "ddp", "gradient_as_bucket_view": True}}),
]


def test_setup_is_public_under_its_own_name():
    assert cnncost.Setup is ModelSetup and "Setup" in cnncost.__all__
    job = cnncost.Setup(checkpoint=["all"], fsdp_units=["layer1"], world_size=2, sharding="fsdp")
    assert job.checkpoint == ("all",) and job.fsdp_units == ("layer1",) and hash(job)


@pytest.mark.parametrize("job,keywords", JOBS, ids=[str(i) for i in range(len(JOBS))])
def test_table_and_fit_with_setup_equal_their_keywords(job, keywords):
    by_setup = cnncost.table("resnet18", batch=16, dtype="bf16", memory="autograd", setup=cnncost.Setup(**job))
    by_keywords = cnncost.table("resnet18", batch=16, dtype="bf16", memory="autograd", **keywords)
    assert by_setup.to_dict() == by_keywords.to_dict()
    fit = cnncost.fit("resnet18", "4GiB", setup=cnncost.Setup(**job))
    assert fit.to_dict() == cnncost.fit("resnet18", "4GiB", **keywords).to_dict()


def test_inference_and_int8_by_setup():
    job = cnncost.Setup(mode="inference", int8=True)
    r = cnncost.table("resnet18", batch=4, dtype="int8", setup=job)
    assert r.to_dict()["inference"] == cnncost.table("resnet18", batch=4, dtype="int8", mode="inference").to_dict()["inference"]
    assert cnncost.fit("resnet18", "1GiB", dtype="int8", setup=job).batch == \
        cnncost.fit("resnet18", "1GiB", dtype="int8", mode="inference").batch


def test_setup_beside_its_keywords_or_not_a_setup_is_refused():
    job = cnncost.Setup("adamw")
    with pytest.raises(CnnCostError, match="give the job once: setup= or the keywords optimizer, accumulate, not both"):
        cnncost.table("resnet18", memory="autograd", optimizer="sgd", accumulate=2, setup=job)
    with pytest.raises(CnnCostError, match="give the job once: setup= or the keyword freeze"):
        cnncost.fit("resnet18", "8GiB", freeze=["conv1"], setup=job)
    with pytest.raises(CnnCostError, match="setup must be a cnncost.Setup, got dict"):
        cnncost.table("resnet18", setup={"optimizer": "sgd"})
    with pytest.raises(CnnCostError, match=r"Setup\(int8=True\) goes with dtype='int8'"):
        cnncost.table("resnet18", setup=cnncost.Setup(mode="inference", int8=True))
    with pytest.raises(CnnCostError, match="sweep models the training step"):
        cnncost.sweep("resnet18", batch=[1], setup=cnncost.Setup(mode="inference"))
    # the keywords at their defaults beside a setup are no clash
    assert cnncost.table("resnet18", batch=2, optimizer="adam", freeze=[], setup=job).totals.params == 11_689_512


def test_sweep_with_setup_equals_its_keywords():
    pytest.importorskip("pandas")
    job = cnncost.Setup("adamw", checkpoint=["every:2"], accumulate=2, world_size=2, sharding="zero2",
                        freeze=("conv1",))
    by_setup = cnncost.sweep("resnet18", batch=[4, 8], input=[64], memory="autograd", setup=job)
    by_keywords = cnncost.sweep("resnet18", batch=[4, 8], input=[64], memory="autograd", optimizer="adamw",
                                checkpoint="every:2", accumulate=2, parallel={"world_size": 2, "sharding": "zero2"},
                                freeze="conv1")
    assert by_setup.equals(by_keywords)
