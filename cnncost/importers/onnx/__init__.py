"""The ONNX front end's parts: the values a graph carries (`values`), constant folding (`constants`),
the walk over the graph (`walker`), the op handlers by family, and the table that keys them by
operator (`tables`). `cnncost.importers.onnx_graph` drives them."""
