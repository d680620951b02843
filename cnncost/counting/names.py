"""The peer tools whose counts `--count-as` and `cnncost.counting.ops` reproduce, in the order the
docs list them (flopcounter-train and torchscan-macs are the tools' second figures). A module of
its own so that the command line's parser names them without loading any tool's rules."""

TOOL_NAMES = ("flopcounter", "flopcounter-train", "torchvision", "fvcore", "ptflops", "ptflops-aten", "thop",
              "torchinfo", "torchscan", "torchscan-macs", "allops")
